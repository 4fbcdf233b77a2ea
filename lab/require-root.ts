/** Every lab operation creates or removes namespaces, loop devices or mounts, which only root may do. */
export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the lab needs root (it creates namespaces, loop devices and mounts); run as root');
  }
}
