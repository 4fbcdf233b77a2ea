import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { runbookDataConverter } from './data-converter';

/**
 * The standard Temporal environment settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS*, TEMPORAL_PROFILE and the temporal.toml profile file), so the same worker and CLI run
 * against the lab's dev server, a self-hosted cluster or Temporal Cloud. Default: the dev server.
 */
export function temporalSettings() {
  const config = loadClientConnectConfig();
  const connectionOptions = { ...config.connectionOptions, address: config.connectionOptions.address ?? '127.0.0.1:7233' };
  return { connectionOptions, namespace: config.namespace ?? 'default' };
}

export async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await Connection.connect(connectionOptions as Parameters<typeof Connection.connect>[0]);
  return new Client({ connection, namespace, dataConverter: runbookDataConverter });
}

export async function connectWorkerConnection(): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = temporalSettings();
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}
