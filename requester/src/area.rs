//! Search areas (a circle or a box, in degrees) and whether a point lies in one.

/// A search area.
#[derive(Clone, Copy, Debug)]
pub enum Area {
    /// Centre (degrees) and radius (metres).
    Circle {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
        /// Radius in metres.
        radius_m: f64,
    },
    /// South, north, west, east edges (degrees).
    Box {
        /// South.
        min_lat: f64,
        /// North.
        max_lat: f64,
        /// West.
        min_lon: f64,
        /// East.
        max_lon: f64,
    },
}

/// Great-circle distance in metres (haversine, mean Earth radius).
fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

impl Area {
    /// Whether (`lat`, `lon`) lies in the area (the circle's edge included).
    pub fn contains(self, lat: f64, lon: f64) -> bool {
        match self {
            Self::Circle {
                lat: c,
                lon: l,
                radius_m,
            } => haversine_m(c, l, lat, lon) <= radius_m,
            Self::Box {
                min_lat,
                max_lat,
                min_lon,
                max_lon,
            } => (min_lat..=max_lat).contains(&lat) && (min_lon..=max_lon).contains(&lon),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circles_and_boxes() {
        let c = |radius_m| Area::Circle {
            lat: 48.0,
            lon: 2.0,
            radius_m,
        };
        // 0.001° of latitude is ~111 m.
        assert!(c(200.0).contains(48.001, 2.0));
        assert!(!c(100.0).contains(48.001, 2.0));
        let b = Area::Box {
            min_lat: 48.0,
            max_lat: 49.0,
            min_lon: 2.0,
            max_lon: 3.0,
        };
        assert!(b.contains(48.5, 2.5) && b.contains(48.0, 3.0));
        assert!(!b.contains(47.9, 2.5) && !b.contains(48.5, 3.1));
    }
}
