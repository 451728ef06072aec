// The parser ships without types; the tests read only these fields.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(
    text: string,
  ): { name: string; help: string; type: string; metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[] }[];
}
