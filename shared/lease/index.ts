export {
  createLease,
  decideClaim,
  isHandoverTo,
  leaseRecordSchema,
  notATakeover,
  type ClaimDecision,
  type Lease,
  type LeaseOptions,
  type LeaseRecord,
  type LeaseView,
} from './lease.js';
