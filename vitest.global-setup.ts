// After the whole run, stop any Redis or S3 server a crashed test file left behind.
import { stopLeftoverChildren } from '@renderq/testing';

export default function setup() {
  return () => {
    const stopped = stopLeftoverChildren();
    if (stopped.length > 0) console.warn(`stopped servers left behind by tests: ${stopped.join(', ')}`);
  };
}
