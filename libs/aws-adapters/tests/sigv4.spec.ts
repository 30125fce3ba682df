import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { createS3Client, encodeKey } from '../src';
import { SigV4Signer, type SigningCredentials } from '../src/sigv4';

/** The SDK's own signer, configured as the S3 client configures it (path signed as sent). */
function sdkSigner(region: string, credentials: SigningCredentials): SignatureV4 {
  const s3 = createS3Client({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', AWS_REGION: region, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
  const sha256 = (s3.config as unknown as { sha256: ConstructorParameters<typeof SignatureV4>[0]['sha256'] }).sha256;
  s3.destroy();
  return new SignatureV4({ credentials, region, service: 's3', sha256, uriEscapePath: false, applyChecksum: true });
}

describe('SigV4Signer: the same Authorization as @smithy/signature-v4', () => {
  const cases: Array<{ name: string; region: string; credentials: SigningCredentials; key: string; extra: Record<string, string> }> = [
    { name: 'static keys, plain key', region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }, key: 'processed/rides-9b2cf535-000001.csv', extra: {} },
    {
      name: 'session token (Lambda), encoded key, checksum headers, odd spacing',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/with+chars', sessionToken: 'IQoJb3JpZ2luX2VjEAoaCXVzLWVhc3QtMSJH//token==' },
      key: 'processed/a b+c (1)*é!/x.csv',
      extra: { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': 'AHLfIw==', 'content-type': '  text/csv;   charset=utf-8 ' },
    },
  ];

  it.each(cases)('$name', async ({ region, credentials, key, extra }) => {
    // Prepare: one request's headers, as the writer builds them
    const body = Buffer.from('ride_index,x\n0,1\n');
    const path = `/rides-bucket/${encodeKey(key)}`;
    const base: Record<string, string> = {
      host: '127.0.0.1:4568',
      'user-agent': 'rydes-object-writer',
      'content-type': 'text/csv; charset=utf-8',
      'content-length': String(body.length),
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      'amz-sdk-request': 'attempt=2; max=5',
      ...extra,
    };
    const date = new Date('2026-12-01T00:28:39.123Z');
    // Act
    const ours = { ...base };
    new SigV4Signer(region, 's3').sign('PUT', path, ours, credentials, date);
    const sdk = await sdkSigner(region, credentials).sign(
      { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 4568, path, query: {}, headers: { ...base }, body },
      { signingDate: date },
    );
    // Assess
    expect(ours.authorization).toBe(sdk.headers.authorization);
    expect(ours['x-amz-date']).toBe('20261201T002839Z');
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(ours.authorization).not.toContain('user-agent');
  });

  it('derives a new signing key when the day or the secret changes (rotated credentials sign with the new secret)', async () => {
    const signer = new SigV4Signer('us-east-1', 's3');
    const sign = (credentials: SigningCredentials, date: Date) => {
      const headers: Record<string, string> = { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
      signer.sign('PUT', '/b/k', headers, credentials, date);
      return headers.authorization;
    };
    const a = { accessKeyId: 'A', secretAccessKey: 'one' };
    const b = { accessKeyId: 'A', secretAccessKey: 'two' };
    const day1 = new Date('2026-12-01T23:59:59Z');
    const day2 = new Date('2026-12-02T00:00:01Z');
    for (const [credentials, date] of [[a, day1], [b, day1], [a, day2]] as const) {
      const sdk = await sdkSigner('us-east-1', credentials).sign(
        { method: 'PUT', protocol: 'http:', hostname: 'h', path: '/b/k', query: {}, headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
        { signingDate: date },
      );
      expect(sign(credentials, date)).toBe(sdk.headers.authorization);
    }
  });
});
