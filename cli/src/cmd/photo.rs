//! A small real photo for the demo: a JPEG encoded in memory, with an EXIF segment naming the
//! camera, as a phone writes it, so that the core's metadata stripping has something to remove.

use anyhow::Context as _;

/// Width and height of the demo photo, in pixels.
const WIDTH: u16 = 160;
const HEIGHT: u16 = 120;

/// A JPEG with an EXIF `Make` tag.
pub fn sample_jpeg() -> anyhow::Result<Vec<u8>> {
    let mut pixels = Vec::with_capacity(usize::from(WIDTH) * usize::from(HEIGHT) * 3);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (x, y) = (u32::from(x), u32::from(y));
            pixels.extend([
                (x * 255 / u32::from(WIDTH)) as u8,
                (y * 255 / u32::from(HEIGHT)) as u8,
                ((x ^ y) & 0xff) as u8,
            ]);
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&pixels, WIDTH, HEIGHT, jpeg_encoder::ColorType::Rgb)
        .context("encoding the demo photo")?;
    // Right after SOI (FF D8), where cameras put it.
    jpeg.splice(2..2, exif_segment());
    Ok(jpeg)
}

/// An APP1 EXIF segment: a little-endian TIFF header and one IFD entry, `Make` = "TiplineCam".
fn exif_segment() -> Vec<u8> {
    let make = b"TiplineCam\0";
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    // Tag 0x010F (Make), type 2 (ASCII), count, offset of the value after the IFD.
    tiff.extend_from_slice(&0x010Fu16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&(make.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&(8u32 + 2 + 12 + 4).to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(make);
    let mut body = b"Exif\0\0".to_vec();
    body.extend_from_slice(&tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&body);
    segment
}
