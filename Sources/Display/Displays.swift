import CSDL2

/// The live window: video letterboxed with the overlay on top, and the user's keys and window events.
public final class DisplayWindow {
    public let video: SDLVideo
    public let window: Window
    public let renderer: Renderer
    public let painter: OverlayPainter
    /// Draws plot strips into the window (`OverlayLayout.plot`).
    public let plot: PlotStrip
    private var mapper = DisplayEventMapper()

    /// Opens a resizable window. `videoDriver` forces an SDL video driver (`x11`, `wayland`, `offscreen`, …);
    /// nil lets SDL choose.
    public init(
        title: String = "clipcam", size: PixelSize = PixelSize(width: 960, height: 540), fonts: OverlayFonts,
        videoDriver: String? = nil
    ) throws {
        video = try SDLVideo(driver: videoDriver)
        window = try Window(video: video, title: title, size: size)
        renderer = try Renderer(window: window)
        painter = OverlayPainter(renderer: renderer, fonts: fonts)
        plot = PlotStrip(renderer: renderer, fonts: fonts)
    }

    /// Draws a frame and the overlay into the back buffer; nil keeps showing the last frame. `reserved` keeps a
    /// band along the bottom free for a plot strip (`OverlayLayout.plot`).
    @discardableResult
    public func draw(frame: BGRPixels?, overlay: OverlayModel, reserved: OverlayLayout.Reserved = .none) throws
        -> OverlayLayout
    {
        try painter.draw(frame: frame, overlay: overlay, reserved: reserved)
    }

    /// Puts what was drawn on screen.
    public func present() {
        renderer.present()
    }

    /// Draws and presents.
    public func show(frame: BGRPixels?, overlay: OverlayModel) throws {
        try draw(frame: frame, overlay: overlay)
        present()
    }

    /// The prompt being typed after `/`, or nil.
    public var promptDraft: String? { mapper.draft }

    /// Takes every pending SDL event and returns what it means for clipcam.
    public func pollEvents() -> [DisplayEvent] {
        var events: [DisplayEvent] = []
        var event = SDL_Event()
        while SDL_PollEvent(&event) != 0 {
            let wasTyping = mapper.isTyping
            events += mapper.map(event)
            if mapper.isTyping != wasTyping {
                if mapper.isTyping { SDL_StartTextInput() } else { SDL_StopTextInput() }
            }
        }
        return events
    }
}

/// Renders frames and overlays into memory without any window or display, e.g. for tests or saved snapshots.
public final class OffscreenDisplay {
    public let target: OffscreenTarget
    public let painter: OverlayPainter
    public let plot: PlotStrip

    public init(size: PixelSize, fonts: OverlayFonts) throws {
        target = try OffscreenTarget(size: size)
        painter = OverlayPainter(renderer: target.renderer, fonts: fonts)
        plot = PlotStrip(renderer: target.renderer, fonts: fonts)
    }

    @discardableResult
    public func render(frame: BGRPixels?, overlay: OverlayModel, reserved: OverlayLayout.Reserved = .none) throws
        -> OverlayLayout
    {
        try painter.draw(frame: frame, overlay: overlay, reserved: reserved)
    }

    public func image() throws -> RGBImage {
        try target.image()
    }

    public func savePNG(path: String) throws {
        try target.savePNG(path: path)
    }
}
