// A wall clock in ms with sub-ms precision, comparable across processes on one host: the test
// fixtures' ledgers and the benchmarks' latency probes read it in several processes and compare.
//
// `performance.timeOrigin + performance.now()` is not that: a process reads its time origin's
// monotonic and wall-clock parts at two moments during its start, and a busy machine can pause
// it in between, leaving that process's clock off by as much for its whole life (more than 10 ms
// has been seen under load). Here the offset between the system clock and the monotonic timer is
// measured just after the system clock's millisecond ticks, a few times, keeping the largest (a
// pause between the two reads only makes an offset smaller).

/** @param {() => number} [dateNow] the system clock (a process that replaces `Date` passes the real one) */
export function createWallClock(dateNow = Date.now) {
  let offset = -Infinity;
  for (let i = 0; i < 5; i++) {
    const start = dateNow();
    let now;
    while ((now = dateNow()) === start);
    offset = Math.max(offset, now - performance.now());
  }
  return () => offset + performance.now();
}
