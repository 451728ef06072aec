// express 5 ships without types (they are in @types/express); the tests use only these.
declare module 'express' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  type Handler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  interface Application {
    (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
    use(handler: Handler): Application;
    use(path: string, handler: Handler): Application;
    get(path: string, handler: (req: IncomingMessage, res: ServerResponse & { send(text: string): void }) => void): Application;
  }
  interface Express {
    (): Application;
    json(): Handler;
  }
  const express: Express;
  export default express;
}
