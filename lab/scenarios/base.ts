import type { LabScenario } from './types';

/** Two plain hosts: sshd, a hostname and an empty home each. Enough for the SSH layer and the engine. */
export const baseScenario: LabScenario = {
  name: 'base',
  description: 'two plain hosts (node1, node2) with nothing but sshd',
  hosts: [
    { name: 'node1', address: '127.0.0.11' },
    { name: 'node2', address: '127.0.0.12' },
  ],
  async build() {
    // Nothing beyond what the core gives every host.
  },
};
