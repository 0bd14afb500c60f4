export { TLS_IDS, PKI_ORG, pkiDirOf, pkiFilesOf, caKeyOf, dhParamsOf, nodeIdentity, tlsPlanOf, credsDirFiles, tlsObjectArgs, nbdServerTlsArgs, type PkiFiles, type TlsPlan } from './tls-plan.js';
export { installCreds } from './creds-dir.js';
export { issuePairPki, type IssuedPki, type PkiNode } from './openssl.js';
export { checkNodePki, type PkiNodeCheck } from './pki-check.js';
