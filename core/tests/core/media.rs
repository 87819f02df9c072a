//! Metadata stripping on real images: a JPEG carrying GPS EXIF tags and a PNG carrying text and
//! eXIf chunks, parsed again after stripping.

use exif::{Field, In, Rational, Tag, Value};
use img_parts::jpeg::Jpeg;
use img_parts::png::{Png, PngChunk};
use img_parts::{Bytes, ImageEXIF};
use tipline_core::media::strip_metadata;

/// A 32x16 baseline JPEG with an EXIF segment holding a GPS position and a camera serial number,
/// an XMP segment, a comment, and a trailer after the end of the image.
fn jpeg_with_gps() -> Vec<u8> {
    jpeg_with_gps_oriented(None)
}

/// The same, its EXIF also giving the orientation `orientation`.
fn jpeg_with_gps_oriented(orientation: Option<u16>) -> Vec<u8> {
    let pixels: Vec<u8> = (0..32 * 16 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let mut plain = Vec::new();
    jpeg_encoder::Encoder::new(&mut plain, 90)
        .encode(&pixels, 32, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();

    let lat = Field {
        tag: Tag::GPSLatitude,
        ifd_num: In::PRIMARY,
        value: Value::Rational(vec![
            Rational::from((55, 1)),
            Rational::from((40, 1)),
            Rational::from((3397, 100)),
        ]),
    };
    let lat_ref = Field {
        tag: Tag::GPSLatitudeRef,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![b"N".to_vec()]),
    };
    let lon = Field {
        tag: Tag::GPSLongitude,
        ifd_num: In::PRIMARY,
        value: Value::Rational(vec![
            Rational::from((12, 1)),
            Rational::from((34, 1)),
            Rational::from((601, 100)),
        ]),
    };
    let serial = Field {
        tag: Tag::BodySerialNumber,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![b"SN-4417-2209".to_vec()]),
    };
    let oriented = orientation.map(|o| Field {
        tag: Tag::Orientation,
        ifd_num: In::PRIMARY,
        value: Value::Short(vec![o]),
    });
    let mut writer = exif::experimental::Writer::new();
    for f in [&lat, &lat_ref, &lon, &serial]
        .into_iter()
        .chain(oriented.as_ref())
    {
        writer.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();

    let mut jpeg = Jpeg::from_bytes(Bytes::from(plain)).unwrap();
    jpeg.set_exif(Some(Bytes::from(tiff.into_inner())));
    let xmp = [
        b"http://ns.adobe.com/xap/1.0/\0".as_slice(),
        b"<x:xmpmeta>GPS 55.67 12.56</x:xmpmeta>",
    ]
    .concat();
    jpeg.segments_mut().insert(
        1,
        img_parts::jpeg::JpegSegment::new_with_contents(0xE1, Bytes::from(xmp)),
    );
    jpeg.segments_mut().insert(
        1,
        img_parts::jpeg::JpegSegment::new_with_contents(0xFE, Bytes::from_static(b"taken by Ana")),
    );
    let mut out = jpeg.encoder().bytes().to_vec();
    out.extend_from_slice(b"TRAILER: motion photo with its own metadata");
    out
}

fn gps_fields(jpeg: &[u8]) -> Vec<Tag> {
    match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(jpeg)) {
        Ok(exif) => exif.fields().map(|f| f.tag).collect(),
        Err(_) => vec![],
    }
}

fn decode(jpeg: &[u8]) -> Vec<u8> {
    jpeg_decoder::Decoder::new(jpeg).decode().unwrap()
}

#[test]
fn test_jpeg_gps_exif_does_not_survive_stripping() {
    // Given a real JPEG whose EXIF carries GPS coordinates and a serial number
    let original = jpeg_with_gps();
    let tags = gps_fields(&original);
    assert!(
        tags.contains(&Tag::GPSLatitude) && tags.contains(&Tag::BodySerialNumber),
        "fixture lacks GPS: {tags:?}"
    );
    // When it is stripped on the device
    let stripped = strip_metadata("image/jpeg", &original).unwrap();
    // Then an EXIF parser finds nothing at all, no XMP, comment or trailer bytes remain
    assert!(stripped.stripped);
    assert!(gps_fields(&stripped.bytes).is_empty());
    let text = String::from_utf8_lossy(&stripped.bytes);
    for needle in ["Exif", "xmpmeta", "taken by Ana", "TRAILER", "SN-4417"] {
        assert!(!text.contains(needle), "{needle} survived");
    }
    for kind in ["EXIF", "XMP", "COM", "trailer"] {
        assert!(
            stripped.removed.iter().any(|r| r == kind),
            "{kind} not reported in {:?}",
            stripped.removed
        );
    }
    // And the picture itself is untouched: it decodes to the same pixels
    assert_eq!(decode(&stripped.bytes), decode(&original));
}

/// The EXIF fields of a JPEG with their values, as an independent parser reads them.
fn exif_values(jpeg: &[u8]) -> Vec<(Tag, Option<u32>)> {
    match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(jpeg)) {
        Ok(exif) => exif.fields().map(|f| (f.tag, f.value.get_uint(0))).collect(),
        Err(_) => vec![],
    }
}

#[test]
fn test_jpeg_orientation_alone_survives_stripping() {
    // Given a photo taken with the phone on its side: GPS, a serial number and orientation 6
    let original = jpeg_with_gps_oriented(Some(6));
    assert!(exif_values(&original).contains(&(Tag::Orientation, Some(6))));
    // When it is stripped
    let stripped = strip_metadata("image/jpeg", &original).unwrap();
    // Then an EXIF parser finds the orientation and nothing else, and no identifying bytes
    assert_eq!(exif_values(&stripped.bytes), vec![(Tag::Orientation, Some(6))]);
    let text = String::from_utf8_lossy(&stripped.bytes);
    for needle in ["xmpmeta", "taken by Ana", "TRAILER", "SN-4417"] {
        assert!(!text.contains(needle), "{needle} survived");
    }
    assert!(stripped.removed.iter().any(|r| r == "EXIF"));
    // And the picture decodes to the same pixels
    assert_eq!(decode(&stripped.bytes), decode(&original));
}

#[test]
fn test_jpeg_upright_or_unreadable_exif_leaves_no_exif_at_all() {
    // Given a photo whose EXIF says "upright" (1), and one whose EXIF cannot be read
    let upright = jpeg_with_gps_oriented(Some(1));
    let mut broken = Jpeg::from_bytes(Bytes::from(jpeg_with_gps_oriented(Some(6)))).unwrap();
    broken.set_exif(Some(Bytes::from_static(b"MM\0\x2A\xff\xff\xff\xff garbage")));
    let broken = broken.encoder().bytes().to_vec();
    for original in [upright, broken] {
        // When each is stripped
        let stripped = strip_metadata("image/jpeg", &original).unwrap();
        // Then no EXIF remains at all
        assert!(exif_values(&stripped.bytes).is_empty());
        assert!(!String::from_utf8_lossy(&stripped.bytes).contains("Exif"));
    }
}

#[test]
fn test_png_text_and_exif_chunks_do_not_survive() {
    // Given a PNG with tEXt, iTXt, tIME and eXIf chunks
    let mut plain = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut plain, 4, 4);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.add_text_chunk("Author".into(), "Ana".into()).unwrap();
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[9u8; 48]).unwrap();
    }
    let mut png = Png::from_bytes(Bytes::from(plain)).unwrap();
    let at = png.chunks().len() - 1;
    png.chunks_mut()
        .insert(at, PngChunk::new(*b"eXIf", Bytes::from_static(b"MM\0*GPS 55.67")));
    png.chunks_mut().insert(
        at,
        PngChunk::new(*b"tIME", Bytes::from_static(&[7, 234, 11, 21, 9, 30, 0])),
    );
    let original = png.encoder().bytes().to_vec();
    // When stripped
    let stripped = strip_metadata("image/png", &original).unwrap();
    // Then only image chunks remain, and the image still decodes to the same pixels
    let kinds: Vec<[u8; 4]> = Png::from_bytes(Bytes::from(stripped.bytes.clone()))
        .unwrap()
        .chunks()
        .iter()
        .map(|c| c.kind())
        .collect();
    assert_eq!(kinds, vec![*b"IHDR", *b"IDAT", *b"IEND"]);
    let decode_png = |bytes: &[u8]| {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        buf
    };
    assert_eq!(decode_png(&stripped.bytes), decode_png(&original));
}

#[test]
fn test_other_media_pass_through_and_broken_images_are_refused() {
    let audio = b"ID3\x03\0\0\0\0\0\0fake mp3".to_vec();
    let out = strip_metadata("audio/mpeg", &audio).unwrap();
    assert!(!out.stripped);
    assert_eq!(out.bytes, audio);
    let err = strip_metadata("image/jpeg", b"not a jpeg").err().unwrap();
    assert!(err.to_string().contains("JPEG"), "{err}");
    let truncated = &jpeg_with_gps()[..200];
    assert!(strip_metadata("image/jpeg", truncated).is_err());
}
