/// The regular and bold faces the overlay is written in.
public final class OverlayFonts: TextMeasuring {
    public let regular: Font
    public let bold: Font

    public init(regular: Font, bold: Font) {
        self.regular = regular
        self.bold = bold
    }

    /// DejaVu Sans and DejaVu Sans Bold from fonts-dejavu-core, or the font at `override` (a `--font PATH`
    /// option) for both styles.
    public convenience init(override: String? = nil) throws {
        if let override {
            let font = try Font(path: override)
            self.init(regular: font, bold: font)
        } else {
            self.init(regular: try Font(path: Font.defaultRegularPath), bold: try Font(path: Font.defaultBoldPath))
        }
    }

    public func font(_ style: FontStyle) -> Font {
        style == .bold ? bold : regular
    }

    public func measure(_ text: String, style: FontStyle, pixelSize: Int) -> PixelSize {
        font(style).measure(text, pixelSize: pixelSize, outline: OverlayStyle.outline(forPixelSize: pixelSize))
    }

    public func truncated(_ text: String, toWidth width: Int, style: FontStyle, pixelSize: Int) -> String {
        font(style).truncated(
            text, toWidth: width, pixelSize: pixelSize, outline: OverlayStyle.outline(forPixelSize: pixelSize))
    }
}

/// Draws video frames and overlays with one renderer. Text is rasterised once into textures that are kept while
/// they are in use, and the layout is recomputed only when the overlay, the frame size or the output size change,
/// so an unchanged overlay costs no allocation per frame.
public final class OverlayPainter {
    public let renderer: Renderer
    public let fonts: OverlayFonts
    private let video: VideoTexture
    private let text: TextTextures
    private var lastLayout: OverlayLayout?
    private var lastKey: LayoutKey?

    private struct LayoutKey: Equatable {
        var model: OverlayModel
        var frameSize: PixelSize?
        var size: PixelSize
        var reserved: OverlayLayout.Reserved
    }

    public init(renderer: Renderer, fonts: OverlayFonts) {
        self.renderer = renderer
        self.fonts = fonts
        self.video = VideoTexture(renderer: renderer)
        self.text = TextTextures(renderer: renderer, fonts: fonts)
    }

    /// Number of text textures currently kept.
    public var cachedTextCount: Int { text.count }

    /// Draws `frame` letterboxed and `overlay` beside, below or (banner) on top of it, without presenting. A nil
    /// frame shows the last frame drawn again (or black before the first). `reserved` keeps room for a plot strip
    /// along the bottom (`OverlayLayout.plot`), which the caller draws. Returns the layout used.
    @discardableResult
    public func draw(frame: BGRPixels?, overlay: OverlayModel, reserved: OverlayLayout.Reserved = .none) throws
        -> OverlayLayout
    {
        text.nextFrame()
        if let frame { try video.upload(frame) }
        let key = LayoutKey(
            model: overlay, frameSize: video.texture?.size, size: renderer.outputSize, reserved: reserved)
        let layout: OverlayLayout
        if let lastLayout, lastKey == key {
            layout = lastLayout
        } else {
            layout = OverlayLayout(
                model: overlay, frameSize: key.frameSize, size: key.size, fonts: fonts, reserved: reserved)
            lastLayout = layout
            lastKey = key
        }

        try renderer.clear(OverlayStyle.letterbox)
        if let texture = video.texture { try renderer.copy(texture, to: layout.video) }
        for background in layout.backgrounds { try renderer.fill(background.rect, background.color) }
        for bar in layout.bars {
            try renderer.fill(bar.track, OverlayStyle.barTrack)
            try renderer.fill(bar.filled, bar.fillColor)
        }
        for marker in layout.markers { try renderer.fill(marker.rect, marker.color) }
        for item in layout.texts where !item.frame.isEmpty {
            let texture = try text.texture(item.text, style: item.style, pixelSize: item.pixelSize)
            precondition(
                texture.size == item.frame.size,
                "text '\(item.text)' measured \(item.frame.size), drew \(texture.size)")
            try renderer.copy(texture, to: item.frame, tint: item.color)
        }
        return layout
    }
}
