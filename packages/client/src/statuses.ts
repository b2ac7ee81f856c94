/**
 * Which job statuses are final: @renderq/contract's. The build puts the contract's compiled module
 * in this one's place (scripts/inline-contract.mjs), so the published package needs no @renderq/contract.
 */
export { isFinishedStatus } from '@renderq/contract/statuses';
