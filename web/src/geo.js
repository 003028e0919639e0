// Coordinates: on-chain values are micro-degrees (int32); the page works in degrees.

const R = 6371008.8; // mean Earth radius, metres

export const toMicro = (deg) => Math.round(deg * 1e6);
export const fromMicro = (micro) => Number(micro) / 1e6;

/** Great-circle distance in metres. */
export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** East/north offset in metres of (lat, lon) from the centre (local flat approximation). */
export function offsetM(centerLat, centerLon, lat, lon) {
  const rad = Math.PI / 180;
  return { east: (lon - centerLon) * rad * R * Math.cos(centerLat * rad), north: (lat - centerLat) * rad * R };
}

/** The point `east`/`north` metres from the centre. */
export function moveM(centerLat, centerLon, east, north) {
  const rad = Math.PI / 180;
  return { lat: centerLat + north / (R * rad), lon: centerLon + east / (R * rad * Math.cos(centerLat * rad)) };
}

/** Parses "48.8584, 2.2945" (or with a space/semicolon) into degrees; throws naming the problem. */
export function parseLatLon(text) {
  const parts = String(text).trim().split(/[\s,;]+/).filter(Boolean);
  if (parts.length !== 2) throw new Error('enter the place as "latitude, longitude" in degrees, e.g. 48.8584, 2.2945');
  const [lat, lon] = parts.map(Number);
  checkLatLon(lat, lon);
  return { lat, lon };
}

export function checkLatLon(lat, lon) {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw new Error(`latitude must be between -90 and 90 degrees (got ${lat})`);
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw new Error(`longitude must be between -180 and 180 degrees (got ${lon})`);
}

export function formatDistance(m) {
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(m < 10000 ? 2 : 1)} km`;
}
