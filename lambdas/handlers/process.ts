import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

// Placeholder so that the ProcessingStack can bundle and synthesise; the process handler replaces it.
export async function handler(_event: SQSEvent): Promise<SQSBatchResponse> {
  throw new Error('not implemented');
}
