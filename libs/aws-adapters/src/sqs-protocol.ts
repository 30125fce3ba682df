import { AwsJson1_0Protocol, JsonCodec } from '@aws-sdk/core/protocols';

type ProtocolSettings = ConstructorParameters<typeof AwsJson1_0Protocol>[0];
type SerializeArgs = Parameters<AwsJson1_0Protocol['serializeRequest']>;

/**
 * SQS's own protocol (AWS JSON 1.0, the settings the SQS client passes it) with one change: the
 * request body is written by the SDK's string JSON serializer (codec v1: the request built as a
 * plain object, then `JSON.stringify`) instead of the default byte serializer (codec v2), which
 * escapes every string character by character in JavaScript. A SendMessageBatch body is ten
 * message bodies of up to ~200 KB of JSON text each, so nearly every byte goes through that
 * escaping; `JSON.stringify` does the same escaping natively. Both write the members in the
 * schema's order and escape alike (`"`, `\`, control characters, lone surrogates as `\udxxx`),
 * so the request bytes are the same (tests/sqs-protocol.spec.ts compares them request by request
 * against the default client, through a real local SQS too). Responses are read as before.
 *
 * The body leaves the serializer as bytes (UTF-8, encoded once), as the default serializer's
 * does: a string body was encoded three more times per call, by the content length, by the
 * SigV4 payload hash and by the socket write, each a full pass over up to 1 MiB of
 * SendMessageBatch.
 *
 * Passed to the client as `protocol` (a constructor: the client calls it with its own
 * `protocolSettings`, error types included).
 * @example
 * const sqs = new SQSClient({ region: 'us-east-1', protocol: SqsStringJsonProtocol });
 */
export class SqsStringJsonProtocol extends AwsJson1_0Protocol {
  constructor(settings: ProtocolSettings) {
    super(settings);
    // The v2 codec's settings (AwsJsonRpcProtocol's default), for the v1 serializer.
    this.serializer = new JsonCodec({ timestampFormat: { useTrait: true, default: 7 }, jsonName: false }).createSerializer();
  }

  override async serializeRequest(...args: SerializeArgs): ReturnType<AwsJson1_0Protocol['serializeRequest']> {
    const request = await super.serializeRequest(...args);
    if (typeof request.body === 'string') request.body = Buffer.from(request.body, 'utf8');
    return request;
  }
}
