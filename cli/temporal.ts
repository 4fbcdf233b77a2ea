import type { Client } from '@temporalio/client';
import { connectClient, temporalSettings } from '../workers/connection';
import { CliError, EXIT } from './exit-codes';

export async function client(): Promise<Client> {
  try {
    return await connectClient();
  } catch (err) {
    const { connectionOptions } = temporalSettings();
    throw new CliError(`cannot reach Temporal at ${connectionOptions.address}: ${(err as Error).message}. Start it with \`npm start\` (or set TEMPORAL_ADDRESS).`, EXIT.unavailable);
  }
}
