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
    private var lastLayout: OverlayLayout?
    private var lastModel: OverlayModel?
    private var lastFrameSize: PixelSize?

    private struct TextKey: Hashable {
        var text: String
        var style: FontStyle
        var pixelSize: Int
    }
    private struct CachedText {
        var texture: Texture
        var lastUsed: Int
    }
    private var textCache: [TextKey: CachedText] = [:]
    private var frameNumber = 0
    /// Textures not drawn for this many frames are freed.
    private static let textLifetime = 120

    public init(renderer: Renderer, fonts: OverlayFonts) {
        self.renderer = renderer
        self.fonts = fonts
        self.video = VideoTexture(renderer: renderer)
    }

    /// Number of text textures currently kept.
    public var cachedTextCount: Int { textCache.count }

    /// Draws `frame` letterboxed and `overlay` on top, without presenting. A nil frame shows the last frame drawn
    /// again (or black before the first). Returns the layout used.
    @discardableResult
    public func draw(frame: BGRPixels?, overlay: OverlayModel) throws -> OverlayLayout {
        frameNumber += 1
        if let frame { try video.upload(frame) }
        let output = renderer.outputSize
        let frameSize = video.texture?.size
        let layout: OverlayLayout
        if let lastLayout, lastModel == overlay, lastFrameSize == frameSize, lastLayout.size == output {
            layout = lastLayout
        } else {
            layout = OverlayLayout(model: overlay, frameSize: frameSize, size: output, fonts: fonts)
            lastLayout = layout
            lastModel = overlay
            lastFrameSize = frameSize
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
            try renderer.copy(texture(for: item), to: item.frame, tint: item.color)
        }
        evictUnusedText()
        return layout
    }

    private func texture(for item: TextItem) throws -> Texture {
        let key = TextKey(text: item.text, style: item.style, pixelSize: item.pixelSize)
        if var cached = textCache[key] {
            cached.lastUsed = frameNumber
            textCache[key] = cached
            return cached.texture
        }
        let bitmap = fonts.font(item.style).render(
            item.text, pixelSize: item.pixelSize, outline: OverlayStyle.outline(forPixelSize: item.pixelSize))
        precondition(
            bitmap.size == item.frame.size, "text '\(item.text)' measured \(item.frame.size), drew \(bitmap.size)")
        let texture = try Texture(renderer: renderer, size: bitmap.size, argb: bitmap.argb)
        textCache[key] = CachedText(texture: texture, lastUsed: frameNumber)
        return texture
    }

    private func evictUnusedText() {
        guard frameNumber % 30 == 0 else { return }
        textCache = textCache.filter { frameNumber - $0.value.lastUsed < OverlayPainter.textLifetime }
    }
}
