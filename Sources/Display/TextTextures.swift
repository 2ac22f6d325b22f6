/// Text rasterised once into textures and kept while in use: a texture not drawn for `lifetime` frames is freed.
/// One per renderer; unchanged text costs no allocation per frame.
final class TextTextures {
    let renderer: Renderer
    let fonts: OverlayFonts
    private struct Key: Hashable {
        var text: String
        var style: FontStyle
        var pixelSize: Int
    }
    private struct Cached {
        var texture: Texture
        var lastUsed: Int
    }
    private var cache: [Key: Cached] = [:]
    private var frameNumber = 0
    /// Textures not drawn for this many frames are freed.
    static let lifetime = 120

    init(renderer: Renderer, fonts: OverlayFonts) {
        self.renderer = renderer
        self.fonts = fonts
    }

    var count: Int { cache.count }

    /// Starts a new frame; every 30 frames, frees the textures unused for `lifetime` frames.
    func nextFrame() {
        frameNumber += 1
        guard frameNumber % 30 == 0 else { return }
        cache = cache.filter { frameNumber - $0.value.lastUsed < TextTextures.lifetime }
    }

    /// The texture of `text` (white fill, black outline), made on first use.
    func texture(_ text: String, style: FontStyle, pixelSize: Int) throws -> Texture {
        let key = Key(text: text, style: style, pixelSize: pixelSize)
        if var cached = cache[key] {
            cached.lastUsed = frameNumber
            cache[key] = cached
            return cached.texture
        }
        let bitmap = fonts.font(style).render(
            text, pixelSize: pixelSize, outline: OverlayStyle.outline(forPixelSize: pixelSize))
        let texture = try Texture(renderer: renderer, size: bitmap.size, argb: bitmap.argb)
        cache[key] = Cached(texture: texture, lastUsed: frameNumber)
        return texture
    }

    /// Draws `text` with its top-left corner at `x`, `y`, tinted by `color`; returns its frame.
    @discardableResult
    func draw(_ text: String, style: FontStyle = .regular, pixelSize: Int, color: Color, x: Int, y: Int) throws
        -> PixelRect
    {
        guard !text.isEmpty else { return PixelRect(x: x, y: y, width: 0, height: 0) }
        let texture = try texture(text, style: style, pixelSize: pixelSize)
        let frame = PixelRect(x: x, y: y, width: texture.size.width, height: texture.size.height)
        try renderer.copy(texture, to: frame, tint: color)
        return frame
    }
}
