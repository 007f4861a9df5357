// The Node SDK's event types as they apply to the wire, for tests/node_types.rs. Two
// differences between the SDK's types and what real streams carry (tests/fixtures/real/) are
// relaxed, nothing else: a property the types mark optional (`usage?: ResponseUsage`) may be
// `null`, as real streams send it; and `Response.output_text` (computed by the SDK, never sent)
// and `Response.access_programs` (required in the 7.55.0 types, absent from every real capture)
// may be absent. Wrong types, missing fields and unknown keys still fail.
type Relaxed = 'output_text' | 'access_programs';
export type Wire<T> = T extends (infer U)[]
  ? Wire<U>[]
  : T extends object
    ? { [K in keyof T as K extends Relaxed ? never : K]: undefined extends T[K] ? Wire<T[K]> | null : Wire<T[K]> } & {
        [K in keyof T as K extends Relaxed ? K : never]?: Wire<T[K]> | null;
      }
    : T;
