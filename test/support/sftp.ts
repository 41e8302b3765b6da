import { inject } from 'vitest';
import { createSftpAccount } from '../../scripts/stack/sftp-accounts.js';

export { directSftp, readAccountFile } from '../../scripts/stack/sftp-accounts.js';
export type { SftpAccount } from '../../scripts/stack/sftp-accounts.js';

/** An account of its own on the stack's SFTP server, for one test. */
export const sftpAccount = () => createSftpAccount(inject('stack').sftp);
