/**
 * GHCN-Daily element codes as NOAA's `readme.txt` (section III) lists them: the five core
 * elements, the other fixed codes, and the numbered families `SN*#` / `SX*#` (soil temperature:
 * ground cover 0–8, depth 1–7), `WT**` (weather types 01–22) and `WV**` (weather in the
 * vicinity 01, 03, 07, 18, 20).
 */
const FIXED = new Set(
  (
    'PRCP SNOW SNWD TMAX TMIN ' +
    'ACMC ACMH ACSC ACSH ADPT ASLP ASTP AWBT AWDR AWND DAEV DAPR DASF DATN DATX DAWM DWPR EVAP ' +
    'FMTM FRGB FRGT FRTH GAHT MDEV MDPR MDSF MDTN MDTX MNPN MXPN PGTM PSUN RHAV RHMN RHMX TAVG ' +
    'THIC TOBS TSUN WDF1 WDF2 WDF5 WDFG WDFI WDFM WDMV WESD WESF WSF1 WSF2 WSF5 WSFG WSFI WSFM'
  ).split(' '),
);
const SOIL = /^S[NX][0-8][1-7]$/;
const WEATHER_TYPE = /^WT(0[1-9]|1\d|2[0-2])$/;
const WEATHER_VICINITY = /^WV(01|03|07|18|20)$/;

/**
 * True when `code` is a GHCN-Daily element NOAA defines (upper case, 4 characters), e.g. `TMIN`,
 * `PRCP`, `SN32`, `WT01`. Inventories may hold any 4-character code; a list of required
 * elements typed by a person is checked with this, so a typo (`TMNI`) is caught before a run.
 *
 * @example
 * ```ts
 * isGhcnElement('TMAX'); // true
 * isGhcnElement('TMNI'); // false
 * ```
 */
export function isGhcnElement(code: string): boolean {
  return FIXED.has(code) || SOIL.test(code) || WEATHER_TYPE.test(code) || WEATHER_VICINITY.test(code);
}
