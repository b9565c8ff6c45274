// Starts one real nats-server (JetStream on, a free port picked by the server, never 4222)
// for the whole test run and hands its URL to the tests as `inject('natsUrl')`.

import type { TestProject } from 'vitest/node';
import { EmbeddedNats } from 'autonomy-os/internal';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await EmbeddedNats.start({ jetstream: true });
  if (server.port === 4222) {
    await server.stop();
    throw new Error('the test nats-server must not use the default port 4222');
  }
  project.provide('natsUrl', server.url);
  return async () => {
    await server.stop();
  };
}
