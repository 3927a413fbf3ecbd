/** Message timestamps as Janus writes them: strftime("%FT%T%z") in server local time, e.g. 2026-04-29T15:41:47+0200. */
function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function janusDate(d: Date = new Date()): string {
  const offset = -d.getTimezoneOffset(); // minutes east of UTC, the sign %z prints
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${date}T${time}${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
