//! Namespace bundles: hash ranges over the 32-bit hash of topic names.
//!
//! A namespace's topics are spread over bundles by `crc32(full topic name)`, as Pulsar's
//! `NamespaceBundleFactory` does with Guava's CRC32, so a topic lands in the same bundle range
//! here as in Pulsar. Bundles are the unit of ownership: a broker owns whole bundles, and
//! unloading or splitting a bundle moves all of its topics at once.

use std::fmt;

use crate::metadata::{BundlesData, MetadataError};

/// The lowest boundary of a namespace's hash space.
pub const FULL_LOWER: u32 = 0;
/// The highest boundary; the last bundle includes it.
pub const FULL_UPPER: u32 = u32::MAX;
/// Pulsar's `defaultNumberOfNamespaceBundles`.
pub const DEFAULT_BUNDLES: u32 = 4;
/// Upper bound on bundles per namespace (Pulsar's `maxNumberOfBundlesPerNamespace`-like guard).
pub const MAX_BUNDLES: u32 = 1024;

/// The hash a topic is placed by: CRC32 (IEEE, as `java.util.zip.CRC32`) of its full name.
pub fn topic_hash(full_name: &str) -> u32 {
    crc32fast::hash(full_name.as_bytes())
}

/// One bundle: hashes from `lower` up to `upper` (excluded, except for the last bundle,
/// which includes [`FULL_UPPER`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundleRange {
    /// First hash in the bundle.
    pub lower: u32,
    /// End of the bundle.
    pub upper: u32,
}

impl BundleRange {
    /// Whether `hash` falls into this bundle.
    pub fn contains(&self, hash: u32) -> bool {
        hash >= self.lower
            && (hash < self.upper || (self.upper == FULL_UPPER && hash == FULL_UPPER))
    }

    /// Parses Pulsar's bundle name `0x00000000_0x40000000`.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] when the name is not two hex bounds with lower < upper.
    pub fn parse(name: &str) -> Result<Self, MetadataError> {
        let invalid = || {
            MetadataError::invalid(format!(
                "invalid bundle {name:?}: expected 0xLOWER_0xUPPER, e.g. 0x00000000_0x40000000"
            ))
        };
        let (lower, upper) = name.split_once('_').ok_or_else(invalid)?;
        let lower = parse_boundary(lower).ok_or_else(invalid)?;
        let upper = parse_boundary(upper).ok_or_else(invalid)?;
        if lower >= upper {
            return Err(invalid());
        }
        Ok(Self { lower, upper })
    }
}

impl fmt::Display for BundleRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}_0x{:08x}", self.lower, self.upper)
    }
}

/// `0x` + hex, as Pulsar writes boundaries.
fn parse_boundary(text: &str) -> Option<u32> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

fn format_boundary(value: u32) -> String {
    format!("0x{value:08x}")
}

/// A namespace's bundles: sorted boundaries from [`FULL_LOWER`] to [`FULL_UPPER`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceBundles {
    boundaries: Vec<u32>,
}

impl NamespaceBundles {
    /// `count` bundles of (nearly) equal size, as Pulsar divides a new namespace.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] for 0 or more than [`MAX_BUNDLES`].
    pub fn equal(count: u32) -> Result<Self, MetadataError> {
        if count == 0 || count > MAX_BUNDLES {
            return Err(MetadataError::invalid(format!(
                "number of bundles must be from 1 to {MAX_BUNDLES}, got {count}"
            )));
        }
        // Pulsar divides the 2^32 hash space, then closes the last bundle at 0xffffffff.
        let size = (1u64 << 32) / u64::from(count);
        let mut boundaries: Vec<u32> = (0..u64::from(count))
            .map(|i| u32::try_from(i * size).unwrap_or(FULL_UPPER))
            .collect();
        boundaries.push(FULL_UPPER);
        Ok(Self { boundaries })
    }

    /// Reads stored bundle data; `numBundles` alone (as `namespaces create --bundles N`
    /// sends it) means N equal bundles.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] when boundaries do not parse, are not strictly increasing,
    /// or do not span the whole hash space.
    pub fn from_data(data: &BundlesData) -> Result<Self, MetadataError> {
        if data.boundaries.is_empty() {
            return Self::equal(data.num_bundles);
        }
        let boundaries = data
            .boundaries
            .iter()
            .map(|b| {
                parse_boundary(b)
                    .ok_or_else(|| MetadataError::invalid(format!("invalid bundle boundary {b:?}")))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        let increasing = boundaries.windows(2).all(|w| matches!(w, [a, b] if a < b));
        let spans =
            boundaries.first() == Some(&FULL_LOWER) && boundaries.last() == Some(&FULL_UPPER);
        if !increasing || !spans || boundaries.len() < 2 {
            return Err(MetadataError::invalid(
                "bundle boundaries must increase from 0x00000000 to 0xffffffff",
            ));
        }
        Ok(Self { boundaries })
    }

    /// The stored form.
    pub fn to_data(&self) -> BundlesData {
        BundlesData {
            boundaries: self
                .boundaries
                .iter()
                .copied()
                .map(format_boundary)
                .collect(),
            num_bundles: u32::try_from(self.boundaries.len().saturating_sub(1)).unwrap_or(u32::MAX),
        }
    }

    /// Every bundle, in hash order.
    pub fn ranges(&self) -> Vec<BundleRange> {
        self.boundaries
            .windows(2)
            .filter_map(|w| match w {
                [lower, upper] => Some(BundleRange {
                    lower: *lower,
                    upper: *upper,
                }),
                _ => None,
            })
            .collect()
    }

    /// The bundle holding `hash`.
    pub fn find(&self, hash: u32) -> BundleRange {
        self.ranges()
            .into_iter()
            .find(|r| r.contains(hash))
            // Boundaries span the whole space, so some bundle always matches.
            .unwrap_or(BundleRange {
                lower: FULL_LOWER,
                upper: FULL_UPPER,
            })
    }

    /// The bundle of a topic, by its full name.
    pub fn bundle_of(&self, full_name: &str) -> BundleRange {
        self.find(topic_hash(full_name))
    }

    /// Whether `range` is one of the bundles.
    pub fn contains(&self, range: &BundleRange) -> bool {
        self.ranges().contains(range)
    }

    /// Splits `range` in the middle of its hash range (Pulsar's `range_equally_divide`) and
    /// returns the two halves.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] when `range` is not a bundle of this namespace,
    /// [`MetadataError::Precondition`] when it is too small to split or the namespace already
    /// has [`MAX_BUNDLES`].
    pub fn split(
        &mut self,
        range: &BundleRange,
    ) -> Result<(BundleRange, BundleRange), MetadataError> {
        if !self.contains(range) {
            return Err(MetadataError::not_found(format!("bundle {range}")));
        }
        if self.ranges().len() >= MAX_BUNDLES as usize {
            return Err(MetadataError::precondition(format!(
                "the namespace already has {MAX_BUNDLES} bundles"
            )));
        }
        let middle = range.lower + (range.upper - range.lower) / 2;
        if middle == range.lower {
            return Err(MetadataError::precondition(format!(
                "bundle {range} is too small to split"
            )));
        }
        let at = self.boundaries.partition_point(|b| *b < middle);
        self.boundaries.insert(at, middle);
        Ok((
            BundleRange {
                lower: range.lower,
                upper: middle,
            },
            BundleRange {
                lower: middle,
                upper: range.upper,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_default_bundles_have_pulsars_boundaries() {
        let bundles = NamespaceBundles::equal(DEFAULT_BUNDLES).unwrap();
        let names: Vec<String> = bundles.ranges().iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "0x00000000_0x40000000",
                "0x40000000_0x80000000",
                "0x80000000_0xc0000000",
                "0xc0000000_0xffffffff"
            ]
        );
        assert_eq!(bundles.to_data().num_bundles, 4);
        assert_eq!(
            bundles.to_data().boundaries,
            [
                "0x00000000",
                "0x40000000",
                "0x80000000",
                "0xc0000000",
                "0xffffffff"
            ]
        );
    }

    #[test]
    fn every_hash_falls_in_exactly_one_bundle_and_the_top_is_included() {
        let bundles = NamespaceBundles::equal(3).unwrap();
        for hash in [
            0,
            1,
            0x5555_5554,
            0x5555_5555,
            0xaaaa_aaaa,
            u32::MAX - 1,
            u32::MAX,
        ] {
            let hits = bundles.ranges().iter().filter(|r| r.contains(hash)).count();
            assert_eq!(hits, 1, "hash {hash:#x}");
        }
        assert_eq!(bundles.find(u32::MAX).upper, FULL_UPPER);
    }

    #[test]
    fn topic_hash_is_the_ieee_crc32_of_the_name() {
        // CRC32("123456789") is the standard check value 0xcbf43926.
        assert_eq!(topic_hash("123456789"), 0xcbf4_3926);
    }

    #[test]
    fn split_halves_a_bundle_and_keeps_the_others() {
        let mut bundles = NamespaceBundles::equal(4).unwrap();
        let first = BundleRange::parse("0x00000000_0x40000000").unwrap();
        let (a, b) = bundles.split(&first).unwrap();
        assert_eq!(a.to_string(), "0x00000000_0x20000000");
        assert_eq!(b.to_string(), "0x20000000_0x40000000");
        assert_eq!(bundles.ranges().len(), 5);
        assert!(bundles.contains(&a) && bundles.contains(&b) && !bundles.contains(&first));
        let again = NamespaceBundles::from_data(&bundles.to_data()).unwrap();
        assert_eq!(again, bundles);
    }

    #[test]
    fn split_of_an_unknown_bundle_is_not_found() {
        let mut bundles = NamespaceBundles::equal(4).unwrap();
        let other = BundleRange::parse("0x00000000_0x20000000").unwrap();
        assert!(matches!(
            bundles.split(&other),
            Err(MetadataError::NotFound { .. })
        ));
    }

    #[test]
    fn bad_bundle_names_and_boundaries_are_invalid() {
        for name in [
            "",
            "0x1",
            "0x40000000_0x00000000",
            "zz_0x10",
            "0x0_0x100000000",
        ] {
            assert!(BundleRange::parse(name).is_err(), "{name}");
        }
        let gap = BundlesData {
            boundaries: vec!["0x00000000".into(), "0x10000000".into()],
            num_bundles: 1,
        };
        assert!(NamespaceBundles::from_data(&gap).is_err());
        assert!(NamespaceBundles::equal(0).is_err());
        let by_count = BundlesData {
            boundaries: Vec::new(),
            num_bundles: 8,
        };
        assert_eq!(
            NamespaceBundles::from_data(&by_count)
                .unwrap()
                .ranges()
                .len(),
            8
        );
    }
}
