import { DEFAULT_STATIONS, inventoryCoverage, isGhcnElement, type InventoryEntry } from '../src/index';

describe('isGhcnElement: the codes of NOAA readme.txt section III', () => {
  it.each(['PRCP', 'SNOW', 'SNWD', 'TMAX', 'TMIN', 'TAVG', 'AWND', 'WESD', 'SN32', 'SX11', 'WT01', 'WT22', 'WV03', 'WV20'])('knows %s', (code) => {
    expect(isGhcnElement(code)).toBe(true);
  });

  it.each(['TMNI', 'tmin', 'TMIN ', '', 'TMI', 'TMINX', 'SN91', 'SN30', 'WT23', 'WT00', 'WV02', 'ABCD'])('refuses %j', (code) => {
    expect(isGhcnElement(code)).toBe(false);
  });
});

describe('inventoryCoverage: an inventory checked against its catalogue', () => {
  const [a, b, c] = DEFAULT_STATIONS.map((s) => s.id);
  const line = (id: string, element: string, firstYear = 2000, lastYear = 2024): InventoryEntry => ({ id, element, firstYear, lastYear });
  const required = ['TMIN', 'TMAX', 'PRCP'];

  it('counts the catalogue stations that report every required element in some year', () => {
    const inventory = [
      ...required.map((e) => line(a, e)),
      // b reports TMAX and PRCP only: never a candidate.
      line(b, 'TMAX'),
      line(b, 'PRCP'),
      // c's elements in disjoint years still count here (the per-year check is the lookup's).
      line(c, 'TMIN', 1950, 1960),
      line(c, 'TMAX', 2000, 2010),
      line(c, 'PRCP', 2020, 2024),
      line('XX000000001', 'TMIN'),
    ];
    expect(inventoryCoverage(DEFAULT_STATIONS, inventory, required)).toEqual({
      catalogueStations: DEFAULT_STATIONS.length,
      inventoryStations: 4,
      unknownStations: 1,
      covered: 2,
      missingElements: [],
    });
  });

  it('covers nothing when the ids belong to another catalogue', () => {
    const inventory = required.map((e) => line('CA000000001', e));
    expect(inventoryCoverage(DEFAULT_STATIONS, inventory, required)).toMatchObject({ covered: 0, unknownStations: 1, missingElements: required });
  });

  it('names a required element no catalogue station reports', () => {
    const inventory = required.map((e) => line(a, e));
    expect(inventoryCoverage(DEFAULT_STATIONS, inventory, [...required, 'TAVG'])).toMatchObject({ covered: 0, missingElements: ['TAVG'] });
  });

  it('covers nothing with an empty inventory', () => {
    expect(inventoryCoverage(DEFAULT_STATIONS, [], required)).toEqual({
      catalogueStations: DEFAULT_STATIONS.length,
      inventoryStations: 0,
      unknownStations: 0,
      covered: 0,
      missingElements: required,
    });
  });
});
