//! Stripping identifying metadata from photos on the device, before anything is sealed: EXIF
//! (GPS position, camera serial numbers, time), XMP, IPTC, ICC profiles, comments, thumbnails,
//! and data that phones append after the image (secondary images, motion-photo videos).
//!
//! JPEG keeps only what decoding needs (frame, tables, scans, JFIF and Adobe colour headers),
//! and of the EXIF data one field, the orientation, written anew in an EXIF segment of its own
//! (without it a photo taken with the phone held upright shows on its side at the desk; it says
//! nothing about who, where or when). PNG keeps only its critical chunks and colour rendering
//! chunks. Container parsing comes from the `img-parts` crate, EXIF reading from `kamadak-exif`.

use img_parts::jpeg::{markers, Jpeg, JpegSegment};
use img_parts::png::Png;
use img_parts::Bytes;

use crate::{Error, Result};

/// PNG chunks that are kept; everything else (tEXt, zTXt, iTXt, eXIf, tIME, iCCP, ...) goes.
const PNG_KEEP: [&[u8; 4]; 9] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT",
];

/// The outcome of stripping one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripped {
    /// The file without its metadata (or unchanged, see `stripped`).
    pub bytes: Vec<u8>,
    /// Whether the format is one the core strips; `false` means the file is passed through as
    /// it is and the app should say so to the reporter.
    pub stripped: bool,
    /// What was removed, by kind (`EXIF`, `XMP`, `APP13`, `COM`, `tEXt`, `trailer`...), for the
    /// screen; no values.
    pub removed: Vec<String>,
}

/// Whether the core strips files of `media_type` (JPEG and PNG); these are parsed whole in
/// memory, every other type is passed through in chunks.
pub fn strips(media_type: &str) -> bool {
    matches!(
        media_type.to_ascii_lowercase().as_str(),
        "image/jpeg" | "image/jpg" | "image/png"
    )
}

/// Strips metadata from `bytes` of `media_type`. JPEG and PNG are stripped; other types are
/// returned unchanged with `stripped = false`. A file that claims to be JPEG or PNG but does not
/// parse is refused rather than sent with its metadata.
pub fn strip_metadata(media_type: &str, bytes: &[u8]) -> Result<Stripped> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/jpg" => strip_jpeg(bytes),
        "image/png" => strip_png(bytes),
        _ => Ok(Stripped {
            bytes: bytes.to_vec(),
            stripped: false,
            removed: vec![],
        }),
    }
}

fn app_name(segment: &JpegSegment) -> String {
    let contents = segment.contents();
    match segment.marker() {
        markers::APP1 if contents.starts_with(b"Exif\0") => "EXIF".into(),
        markers::APP1 if contents.starts_with(b"http://ns.adobe.com/xap/") => "XMP".into(),
        markers::APP2 if contents.starts_with(b"ICC_PROFILE\0") => "ICC".into(),
        markers::APP2 if contents.starts_with(b"MPF\0") => "MPF".into(),
        markers::COM => "COM".into(),
        m => format!("APP{}", m.wrapping_sub(markers::APP0)),
    }
}

/// The orientation (2 to 8; 1, the default, is not worth keeping) an EXIF segment gives the
/// primary image, if it is one and says so. Unreadable EXIF gives none: it is dropped whole.
fn exif_orientation(segment: &JpegSegment) -> Option<u16> {
    let tiff = segment.contents().strip_prefix(b"Exif\0\0")?;
    if segment.marker() != markers::APP1 {
        return None;
    }
    let exif = exif::Reader::new().read_raw(tiff.to_vec()).ok()?;
    let value = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)?
        .value
        .get_uint(0)?;
    u16::try_from(value).ok().filter(|v| (2..=8).contains(v))
}

/// An EXIF segment's contents holding nothing but `orientation`: a big-endian TIFF header and one
/// directory with one entry (tag 0x0112, SHORT, count 1).
fn orientation_exif(orientation: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(b"MM\0\x2A");
    out.extend_from_slice(&8u32.to_be_bytes()); // the directory follows the header
    out.extend_from_slice(&1u16.to_be_bytes()); // one entry
    out.extend_from_slice(&0x0112u16.to_be_bytes());
    out.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&orientation.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // the value field's unused half
    out.extend_from_slice(&0u32.to_be_bytes()); // no next directory
    out
}

/// Markers kept before the first scan: APP0 only as JFIF, APP14 (Adobe colour transform), and
/// every non-APP, non-comment segment (frame, tables, restart interval).
fn keep_jpeg_segment(segment: &JpegSegment) -> bool {
    match segment.marker() {
        markers::APP0 => segment.contents().starts_with(b"JFIF\0"),
        0xEE => segment.contents().starts_with(b"Adobe"),
        m if (markers::APP0..=0xEF).contains(&m) || m == markers::COM => false,
        _ => true,
    }
}

fn strip_jpeg(bytes: &[u8]) -> Result<Stripped> {
    let bad = || Error::invalid("attachment", "not a readable JPEG image");
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|_| bad())?;
    let mut removed: Vec<String> = jpeg
        .segments()
        .iter()
        .filter(|s| !keep_jpeg_segment(s))
        .map(app_name)
        .collect();
    let orientation = jpeg.segments().iter().find_map(exif_orientation);
    jpeg.segments_mut().retain(keep_jpeg_segment);
    if let Some(orientation) = orientation {
        // After the JFIF header if there is one, as readers expect.
        let at = usize::from(
            jpeg.segments()
                .first()
                .is_some_and(|s| s.marker() == markers::APP0),
        );
        jpeg.segments_mut().insert(
            at,
            JpegSegment::new_with_contents(markers::APP1, Bytes::from(orientation_exif(orientation))),
        );
    }
    // The first scan segment carries everything after its header: later scans (progressive
    // images), the end marker, and whatever a phone appended. Re-walk that part, dropping
    // metadata segments and anything after the end of the image.
    let scan_at = jpeg
        .segments()
        .iter()
        .position(JpegSegment::has_entropy)
        .ok_or_else(bad)?;
    let header_len: usize = 2 + jpeg.segments()[..=scan_at]
        .iter()
        .map(JpegSegment::len)
        .sum::<usize>();
    let encoded = jpeg.encoder().bytes();
    let (head, entropy) = encoded.split_at(header_len.min(encoded.len()));
    let (entropy, tail_removed) = clean_scans(entropy).ok_or_else(bad)?;
    removed.extend(tail_removed);
    let mut out = Vec::with_capacity(head.len() + entropy.len());
    out.extend_from_slice(head);
    out.extend_from_slice(&entropy);
    Ok(Stripped {
        bytes: out,
        stripped: true,
        removed,
    })
}

/// Copies entropy-coded data and the segments between scans up to and including the end marker,
/// leaving out APPn and COM segments and any bytes after the end marker.
fn clean_scans(data: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let mut out = Vec::with_capacity(data.len());
    let mut removed = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b != 0xFF || i + 1 >= data.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let marker = data[i + 1];
        match marker {
            // Stuffed byte, restart markers and fill bytes belong to the entropy-coded data.
            0x00 | 0xD0..=0xD7 | 0xFF => {
                out.push(b);
                i += 1;
            }
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                if i + 2 < data.len() {
                    removed.push("trailer".to_string());
                }
                return Some((out, removed));
            }
            _ => {
                let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
                let end = i.checked_add(2)?.checked_add(len)?;
                let segment = data.get(i..end)?;
                if (markers::APP0..=0xEF).contains(&marker) || marker == markers::COM {
                    removed.push(if marker == markers::COM {
                        "COM".into()
                    } else {
                        format!("APP{}", marker - markers::APP0)
                    });
                } else {
                    out.extend_from_slice(segment);
                }
                i = end;
            }
        }
    }
    None
}

fn strip_png(bytes: &[u8]) -> Result<Stripped> {
    let bad = || Error::invalid("attachment", "not a readable PNG image");
    let mut png = Png::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|_| bad())?;
    let keep = |kind: [u8; 4]| PNG_KEEP.iter().any(|k| **k == kind);
    let removed = png
        .chunks()
        .iter()
        .filter(|c| !keep(c.kind()))
        .map(|c| String::from_utf8_lossy(&c.kind()).into_owned())
        .collect();
    png.chunks_mut().retain(|c| keep(c.kind()));
    if !png.chunks().iter().any(|c| c.kind() == *b"IEND") {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(bytes.len());
    png.encoder().write_to(&mut out).map_err(|_| bad())?;
    Ok(Stripped {
        bytes: out,
        stripped: true,
        removed,
    })
}
