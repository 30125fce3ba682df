import { createHash, createHmac } from 'node:crypto';

/** The credentials a signature needs (the SDK's `AwsCredentialIdentity` fits). */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Headers SigV4 never signs (the SDK's signer leaves out the same; only user-agent is ever sent here). */
const UNSIGNED = new Set(['authorization', 'user-agent', 'x-amzn-trace-id', 'expect', 'connection', 'transfer-encoding']);

/**
 * Signature V4 for one request with header authorization and a signed payload, as
 * `@smithy/signature-v4` computes it with `uriEscapePath: false` (S3): the path is signed as
 * sent, `x-amz-content-sha256` must already hold the payload's hash. Adds `x-amz-date`,
 * `x-amz-security-token` (with a session token) and `authorization` to `headers`.
 *
 * Hand-written because it is the writer's hot path: the SDK's signer spent 0.08 ms of CPU per
 * signature against 0.017 ms for this (20,000 signatures each, same process), about a quarter
 * of a small PutObject's client CPU; the spec checks both give the same Authorization header.
 * The signing key (four HMACs) is derived once per day, region, service and secret.
 *
 * @example
 * const headers = { host: 'rides.s3.eu-west-1.amazonaws.com', 'x-amz-content-sha256': sha256Hex(body) };
 * const signer = new SigV4Signer('eu-west-1', 's3');
 * signer.sign('PUT', '/processed/x.csv', headers, credentials, new Date());
 * headers.authorization; // 'AWS4-HMAC-SHA256 Credential=AKID…/20261201/eu-west-1/s3/aws4_request, SignedHeaders=host;…, Signature=…'
 */
export class SigV4Signer {
  private keyFor = '';
  private key = Buffer.alloc(0);

  constructor(readonly region: string, readonly service: string) {}

  sign(method: string, path: string, headers: Record<string, string>, credentials: SigningCredentials, date: Date): void {
    const amzDate = date.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    headers['x-amz-date'] = amzDate;
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    else delete headers['x-amz-security-token'];
    const names = Object.keys(headers)
      .map((name) => name.toLowerCase())
      .filter((name) => !UNSIGNED.has(name))
      .sort();
    const lower: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
    const signedHeaders = names.join(';');
    let canonical = `${method}\n${path}\n\n`;
    for (const name of names) canonical += `${name}:${lower[name].trim().replace(/\s+/g, ' ')}\n`;
    canonical += `\n${signedHeaders}\n${lower['x-amz-content-sha256']}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, day)).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }

  private signingKey(secret: string, day: string): Buffer {
    const id = `${day}\n${secret}`;
    if (id !== this.keyFor) {
      let key = createHmac('sha256', `AWS4${secret}`).update(day).digest();
      for (const part of [this.region, this.service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
      this.key = key;
      this.keyFor = id;
    }
    return this.key;
  }
}
