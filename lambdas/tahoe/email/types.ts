/**
 * The view of an RFC 822 message that the email filter needs, with the semantics of Python's
 * `email.parser.Parser(policy=email.policy.default).parsestr(text)` (the reference filter's parser).
 * Implemented in ./message.ts; the filter in ../filters/email.ts only uses this interface.
 */
export interface EmailMessage {
  /**
   * `str(msg[name])` under policy.default: the first header of that name (case-insensitive), unfolded, with
   * RFC 2047 encoded words decoded; `undefined` when absent. (The filter treats '' like absent, as `not e[k]` does.)
   */
  header(name: string): string | undefined;
  /**
   * `msg.get_body(preferencelist=('plain', 'html')).get_content()`: the decoded text of the preferred body part.
   * Throws EmailError('no_body') where the reference raises AttributeError (get_body returned None).
   */
  body(): string;
  /**
   * `msg['date'].datetime.timestamp()` as the reference computes it, in float seconds; a naive date (no zone,
   * or -0000) is read in `timezone` (an IANA name; the reference used the server's local zone).
   * Throws EmailError where the reference raises (unparsable date, second 60, fractional seconds).
   */
  dateTimestamp(timezone: string): number;
}

export class EmailError extends Error {
  override readonly name = 'EmailError';
  constructor(
    readonly kind: 'no_body' | 'bad_date' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}
