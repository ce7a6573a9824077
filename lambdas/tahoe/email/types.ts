/**
 * The view of an RFC 822 message that the email filter needs, with the semantics of Python's
 * `email.parser.Parser(policy=email.policy.default).parsestr(text)` (the reference filter's parser).
 * Implemented in ./message.ts; the filter in ../filters/email.ts only uses this interface.
 */
export interface EmailMessage {
  /**
   * `str(msg[name])` under policy.default: the first header of that name (case-insensitive), unfolded, with
   * RFC 2047 encoded words decoded; `undefined` when absent. (The filter treats '' like absent, as `not e[k]` does.)
   * Structured headers come back as Python rebuilds them: address headers re-serialised from the parsed
   * addresses (`Billing Dept. <a@b>` gives `"Billing Dept." <a@b>`), Date as `format_datetime` writes it.
   * Throws EmailError where `msg[name]` raises in Python 3.8: 'bad_date' for a Date it cannot read, 'malformed'
   * for the parser's own crashes (e.g. `From: x <`).
   */
  header(name: string): string | undefined;
  /**
   * `msg.get_body(preferencelist=('plain', 'html')).get_content()`: the decoded text of the preferred body part.
   * Throws EmailError('no_body') where the reference raises AttributeError (get_body returned None).
   */
  body(): string;
  /**
   * `msg['date'].datetime.timestamp()` as the reference computes it, in float seconds. A date without a zone
   * (or with a zone name Python does not know) is read in `timezone` (an IANA name; an unknown name means UTC;
   * the reference used the server's local zone); -0000 is UTC (RFC 5322 §3.3, as the reference ran with TZ=UTC).
   * Throws EmailError('bad_date') where the reference raises (unparsable date, second 60, fractional seconds).
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
