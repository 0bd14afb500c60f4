export {
  createLease,
  decideClaim,
  leaseRecordSchema,
  type ClaimDecision,
  type Lease,
  type LeaseOptions,
  type LeaseRecord,
  type LeaseView,
} from './lease.js';
