/** One AWS SDK client per AWS region, made on first use and destroyed together. */
export function regionalClients<C extends { destroy(): void }>(make: (awsRegion: string) => C) {
  const clients = new Map<string, C>();
  return {
    of(awsRegion: string): C {
      let client = clients.get(awsRegion);
      if (!client) {
        client = make(awsRegion);
        clients.set(awsRegion, client);
      }
      return client;
    },
    destroyAll(): void {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  };
}
