// Go's time.Time as far as templates see it: String() and Format with reference-time layouts
// ("2006-01-02T15:04:05Z07:00"). A port of the layout scanner (nextStdChunk) in Go's time/format.go.

import { GO_TYPE } from "./value.js";

const longDays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const longMonths = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A time.Time: an instant plus the zone it is shown in. Its String method makes it a fmt.Stringer. */
export class GoTime {
  constructor(readonly ms: number, readonly offsetMinutes: number, readonly zone: string, readonly location: "Local" | "UTC" = "Local") {}
  String(): string {
    return formatGoTime(this, "2006-01-02 15:04:05.999999999 -0700 MST");
  }
  /** What %#v prints: time.Date(2024, time.January, 2, 3, 4, 5, 0, time.Local). */
  GoString(): string {
    const d = new Date(this.ms + this.offsetMinutes * 60_000);
    const nanos = (((this.ms % 1000) + 1000) % 1000) * 1_000_000;
    const fields = [d.getUTCFullYear(), `time.${longMonths[d.getUTCMonth()]}`, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), nanos];
    return `time.Date(${fields.join(", ")}, time.${this.location})`;
  }
  /** toJson: RFC 3339 with nanoseconds, as Go's Time.MarshalJSON. */
  MarshalJSON(): string {
    return `"${formatGoTime(this, "2006-01-02T15:04:05.999999999Z07:00")}"`;
  }
}
// %T and error messages name Go's type, not this class (value.ts would say main.GoTime).
Object.defineProperty(GoTime.prototype, GO_TYPE, { value: "time.Time" });

const localZoneName = (ms: number): string => {
  const offset = -new Date(ms).getTimezoneOffset();
  if (offset === 0 && (process.env.TZ === undefined || /^(UTC|Etc\/UTC|GMT|)$/.test(process.env.TZ))) return "UTC";
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName");
  return part?.value ?? "UTC";
};

/** The instant ms in the process's local zone, as Go's time.Local shows it. */
export const localTime = (ms: number): GoTime => new GoTime(ms, -new Date(ms).getTimezoneOffset(), localZoneName(ms));

export const utcTime = (ms: number): GoTime => new GoTime(ms, 0, "UTC", "UTC");

const std = [
  "January", "Jan", "Monday", "Mon", "MST",
  "2006", "002", "01", "02", "03", "04", "05", "06", "_2", "__2",
  "15", "1", "2", "3", "4", "5",
  "PM", "pm",
  "-07:00:00", "-0700", "-07:00", "-07", "-070000",
  "Z07:00:00", "Z0700", "Z07:00", "Z07", "Z070000",
];

/** Finds the next layout element, mirroring the order of checks in nextStdChunk. */
const nextStd = (layout: string, i: number): { token: string; len: number } | undefined => {
  const rest = layout.slice(i);
  const c = layout[i];
  const starts = (p: string) => rest.startsWith(p);
  switch (c) {
    case "J":
      if (starts("January")) return { token: "January", len: 7 };
      if (starts("Jan")) return { token: "Jan", len: 3 };
      break;
    case "M":
      if (starts("Monday")) return { token: "Monday", len: 6 };
      if (starts("Mon")) return { token: "Mon", len: 3 };
      if (starts("MST")) return { token: "MST", len: 3 };
      break;
    case "0":
      if (rest.length >= 2 && rest[1] >= "1" && rest[1] <= "6") return { token: rest.slice(0, 2), len: 2 };
      if (starts("002")) return { token: "002", len: 3 };
      break;
    case "1":
      if (starts("15")) return { token: "15", len: 2 };
      return { token: "1", len: 1 };
    case "2":
      if (starts("2006")) return { token: "2006", len: 4 };
      return { token: "2", len: 1 };
    case "_":
      if (starts("_2")) {
        if (starts("_2006")) return undefined; // "_" then "2006"
        if (starts("__2")) return { token: "__2", len: 3 };
        return { token: "_2", len: 2 };
      }
      if (starts("__2")) return { token: "__2", len: 3 };
      break;
    case "3": case "4": case "5":
      return { token: c, len: 1 };
    case "P":
      if (starts("PM")) return { token: "PM", len: 2 };
      break;
    case "p":
      if (starts("pm")) return { token: "pm", len: 2 };
      break;
    case "-":
      for (const t of ["-070000", "-07:00:00", "-0700", "-07:00", "-07"]) if (starts(t)) return { token: t, len: t.length };
      break;
    case "Z":
      for (const t of ["Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"]) if (starts(t)) return { token: t, len: t.length };
      break;
    case ".": case ",":
      if (rest.length >= 2 && (rest[1] === "0" || rest[1] === "9")) {
        const ch = rest[1];
        let j = 1;
        while (j < rest.length && rest[j] === ch) j++;
        if (!(j < rest.length && rest[j] >= "0" && rest[j] <= "9")) return { token: c + ch.repeat(j - 1), len: j };
      }
      break;
  }
  return undefined;
};

const pad = (n: number, w: number, ch = "0"): string => String(n).padStart(w, ch);

export const formatGoTime = (t: GoTime, layout: string): string => {
  const d = new Date(t.ms + t.offsetMinutes * 60_000);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  const hour = d.getUTCHours();
  const min = d.getUTCMinutes();
  const sec = d.getUTCSeconds();
  const nanos = (((t.ms % 1000) + 1000) % 1000) * 1_000_000;
  const yday = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
  const out: string[] = [];
  let i = 0;
  while (i < layout.length) {
    const m = nextStd(layout, i);
    if (!m || !std.includes(m.token) && !/^[.,][09]+$/.test(m.token)) {
      out.push(layout[i]);
      i++;
      continue;
    }
    i += m.len;
    const off = t.offsetMinutes;
    const sign = off < 0 ? "-" : "+";
    const ah = Math.floor(Math.abs(off) / 60);
    const am = Math.abs(off) % 60;
    switch (m.token) {
      case "2006": out.push(pad(year, 4)); break;
      case "06": out.push(pad(year % 100, 2)); break;
      case "January": out.push(longMonths[month]); break;
      case "Jan": out.push(longMonths[month].slice(0, 3)); break;
      case "01": out.push(pad(month + 1, 2)); break;
      case "1": out.push(String(month + 1)); break;
      case "Monday": out.push(longDays[d.getUTCDay()]); break;
      case "Mon": out.push(longDays[d.getUTCDay()].slice(0, 3)); break;
      case "02": out.push(pad(day, 2)); break;
      case "2": out.push(String(day)); break;
      case "_2": out.push(pad(day, 2, " ")); break;
      case "002": out.push(pad(yday, 3)); break;
      case "__2": out.push(pad(yday, 3, " ")); break;
      case "15": out.push(pad(hour, 2)); break;
      case "03": out.push(pad(hour % 12 === 0 ? 12 : hour % 12, 2)); break;
      case "3": out.push(String(hour % 12 === 0 ? 12 : hour % 12)); break;
      case "04": out.push(pad(min, 2)); break;
      case "4": out.push(String(min)); break;
      case "05": out.push(pad(sec, 2)); break;
      case "5": out.push(String(sec)); break;
      case "PM": out.push(hour >= 12 ? "PM" : "AM"); break;
      case "pm": out.push(hour >= 12 ? "pm" : "am"); break;
      case "MST": out.push(t.zone || `${sign}${pad(ah, 2)}${am ? pad(am, 2) : ""}`); break;
      default: {
        const tok = m.token;
        if (tok[0] === "." || tok[0] === ",") {
          const digits = tok.length - 1;
          const frac = pad(nanos, 9).slice(0, digits);
          if (tok[1] === "0") out.push(tok[0] + frac);
          else {
            const trimmed = frac.replace(/0+$/, "");
            if (trimmed) out.push(tok[0] + trimmed);
          }
          break;
        }
        if (tok[0] === "Z" && off === 0) { out.push("Z"); break; }
        const body = tok.slice(1);
        if (body === "07") out.push(sign + pad(ah, 2));
        else if (body === "0700") out.push(sign + pad(ah, 2) + pad(am, 2));
        else if (body === "07:00") out.push(`${sign}${pad(ah, 2)}:${pad(am, 2)}`);
        else if (body === "070000") out.push(sign + pad(ah, 2) + pad(am, 2) + "00");
        else out.push(`${sign}${pad(ah, 2)}:${pad(am, 2)}:00`);
      }
    }
  }
  return out.join("");
};
