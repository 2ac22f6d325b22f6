// WebP as Pillow 13 opens it (WebPImagePlugin.py, _webp.c `_anim_decoder_new`): the canvas size from the first
// chunk is checked against the pixel limit, libwebp's animation decoder (default options: RGBA, not premultiplied)
// decodes the first frame of every file, still or animated, and the mode is "RGBA" when WebPGetFeatures reports
// alpha, else "RGB" (the fourth byte dropped). The EXIF and XMP chunks give the orientation. A file shorter than its
// RIFF header says is truncated (the demuxer refuses it, as it refuses Pillow: "could not create decoder object").
// Pillow 13 bundles libwebp 1.6, Debian 12 ships 1.2.4: identical output, measured (see ImageDecoding.swift).
import CWebP

enum WebPImageDecoder {
    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        let reader = ByteReader(bytes)
        if let (width, height) = headerSize(reader) { try PixelLimit.check(width: width, height: height) }
        if let riffSize = reader.u32le(4), riffSize + 8 > bytes.count { throw .truncated }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(DecodeFailure) -> DecodedImageFile in
            var features = WebPBitstreamFeatures()
            let known = WebPGetFeatures(buffer.baseAddress!, buffer.count, &features) == VP8_STATUS_OK
            if known { try PixelLimit.check(width: Int(features.width), height: Int(features.height)) }
            let hasAlpha = !known || features.has_alpha != 0
            var data = WebPData(bytes: buffer.baseAddress!, size: buffer.count)
            guard let opened = WebPAnimDecoderNew(&data, nil) else {
                throw .damaged("libwebp cannot parse the file")
            }
            let handle = WebPHandle(opened)
            defer { withExtendedLifetime(handle) {} }  // `decoder` is used directly until the end
            let decoder = handle.pointer
            var info = WebPAnimInfo()
            guard WebPAnimDecoderGetInfo(decoder, &info) != 0 else { throw .damaged("libwebp cannot parse the file") }
            let width = Int(info.canvas_width)
            let height = Int(info.canvas_height)
            try PixelLimit.check(width: width, height: height)
            var frame: UnsafeMutablePointer<UInt8>?
            var timestamp: Int32 = 0
            guard WebPAnimDecoderGetNext(decoder, &frame, &timestamp) != 0, let frame else {
                throw .damaged("libwebp cannot decode the first frame")
            }
            let rgba = Array(UnsafeBufferPointer(start: frame, count: width * height * 4))
            var metadata = ImageMetadata()
            if let demuxer = WebPAnimDecoderGetDemuxer(decoder) {
                metadata.exif = chunk(demuxer, "EXIF")
                metadata.xmp = chunk(demuxer, "XMP ")
            }
            let pixels: PillowPixels = hasAlpha ? .rgba(rgba) : .rgb(PillowImage.droppingAlpha(rgba))
            let image = PillowImage(width: width, height: height, pixels: pixels)
            return DecodedImageFile(image: image, orientation: metadata.orientation)
        }
    }

    /// WebPImagePlugin's `_get_size`: the canvas of a VP8X chunk, or the frame of a VP8 or VP8L one first in the file.
    static func headerSize(_ reader: ByteReader) -> (Int, Int)? {
        guard let chunk = reader.slice(12, 4) else { return nil }
        switch String(decoding: chunk, as: UTF8.self) {
        case "VP8 ":
            guard reader.count >= 30, reader.slice(23, 3) == [0x9D, 0x01, 0x2A] else { return nil }
            return (reader.u16le(26)! & 0x3FFF, reader.u16le(28)! & 0x3FFF)
        case "VP8X":
            guard reader.count >= 30 else { return nil }
            let width = reader.u16le(24)! | reader.u8(26)! << 16
            let height = reader.u16le(27)! | reader.u8(29)! << 16
            return (width + 1, height + 1)
        case "VP8L":
            guard reader.count >= 25, reader.u8(20) == 0x2F else { return nil }
            let bits = reader.u32le(21)!
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        default:
            return nil
        }
    }

    private static func chunk(_ demuxer: OpaquePointer, _ fourCC: String) -> [UInt8]? {
        var iterator = WebPChunkIterator()
        guard WebPDemuxGetChunk(demuxer, fourCC, 1, &iterator) != 0 else { return nil }
        defer { WebPDemuxReleaseChunkIterator(&iterator) }
        guard let bytes = iterator.chunk.bytes, iterator.chunk.size > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: bytes, count: iterator.chunk.size))
    }
}

/// A libwebp animation decoder, deleted with this object.
private final class WebPHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { WebPAnimDecoderDelete(pointer) }
}
