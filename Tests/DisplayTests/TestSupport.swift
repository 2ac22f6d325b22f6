import Testing

@testable import Display

/// The overlay fonts from fonts-dejavu-core; a missing font fails the test with the install command.
func loadFonts() throws -> OverlayFonts {
    do {
        return try OverlayFonts()
    } catch {
        Issue.record("\(error)")
        throw error
    }
}

/// A tightly packed BGR24 frame of one colour.
func solidFrame(width: Int, height: Int, _ color: Color) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: width * height * 3)
    for i in stride(from: 0, to: bytes.count, by: 3) {
        bytes[i] = color.blue
        bytes[i + 1] = color.green
        bytes[i + 2] = color.red
    }
    return bytes
}

/// Renders `overlay` over a solid `frameColor` frame of `frameSize` into an offscreen image of `size`.
func renderOffscreen(
    _ overlay: OverlayModel, size: PixelSize, frameSize: PixelSize = PixelSize(width: 640, height: 480),
    frameColor: Color = Color(red: 120, green: 120, blue: 120), fonts: OverlayFonts, savingTo path: String? = nil
) throws -> (OverlayLayout, RGBImage) {
    let display = try OffscreenDisplay(size: size, fonts: fonts)
    let bytes = solidFrame(width: frameSize.width, height: frameSize.height, frameColor)
    let layout = try BGRPixels.withPixels(of: bytes, width: frameSize.width, height: frameSize.height) {
        try display.render(frame: $0, overlay: overlay)
    }
    if let path { try display.savePNG(path: path) }
    return (layout, try display.image())
}

let sampleStatus = OverlayModel.Status(cameraFPS: 30, encoderFPS: 9.6, droppedFrames: 12, modelName: "ViT-B/32")
