/** Opens the storage backend that STORAGE_URL names. */
import type { StorageConfig } from '../config/config.js';
import { FileStorage } from './file-storage.js';
import { S3Storage } from './s3-storage.js';
import type { Storage } from './storage.js';

export function openStorage(config: StorageConfig): Storage {
  switch (config.kind) {
    case 'file':
      return new FileStorage(config.dir);
    case 's3':
      return new S3Storage(config);
  }
}
