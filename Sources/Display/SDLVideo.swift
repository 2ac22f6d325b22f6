import CSDL2

/// The SDL video subsystem, initialised for as long as this object lives (SDL counts nested initialisations).
/// SDL video objects must all be used from the thread that created them.
public final class SDLVideo {
    /// Name of the video driver SDL is running with, e.g. `x11`, `wayland`, `offscreen`, `dummy`.
    public let driver: String

    /// Starts SDL's video subsystem. `driver` picks a video driver by name (it overrides `SDL_VIDEODRIVER`);
    /// nil lets SDL choose, honouring `SDL_VIDEODRIVER`.
    public init(driver requested: String? = nil) throws {
        let wasRunning = SDL_WasInit(SDL_INIT_VIDEO) != 0
        if !wasRunning {
            if let requested {
                SDL_SetHintWithPriority(SDL_HINT_VIDEODRIVER, requested, SDL_HINT_OVERRIDE)
            } else {
                SDL_ResetHint(SDL_HINT_VIDEODRIVER)
            }
        }
        guard SDL_InitSubSystem(SDL_INIT_VIDEO) == 0 else {
            let message = SDLError.currentMessage()
            throw SDLError.callFailed(
                call: "SDL_InitSubSystem(SDL_INIT_VIDEO) with driver '\(requested ?? "default")'",
                message: message
                    + "; set SDL_VIDEODRIVER=offscreen to run without a display, or run under scripts/with-xvfb")
        }
        let active = SDL_GetCurrentVideoDriver().map { String(cString: $0) } ?? "unknown"
        if let requested, active != requested {
            SDL_QuitSubSystem(SDL_INIT_VIDEO)
            throw SDLError.videoDriverMismatch(requested: requested, active: active)
        }
        driver = active
        if !wasRunning {
            // SDL turns text input on by default; clipcam turns it on only while a prompt is being typed.
            SDL_StopTextInput()
        }
    }

    /// True for drivers that have no screen to show on; their windows are drawn with the software renderer.
    public var isHeadless: Bool { driver == "offscreen" || driver == "dummy" }

    deinit {
        SDL_QuitSubSystem(SDL_INIT_VIDEO)
    }
}

/// A resizable top-level window.
public final class Window {
    public let video: SDLVideo
    let handle: OpaquePointer

    public init(video: SDLVideo, title: String, size: PixelSize) throws {
        precondition(size.width > 0 && size.height > 0, "window size must be positive, got \(size)")
        let flags = SDL_WINDOW_RESIZABLE.rawValue | SDL_WINDOW_SHOWN.rawValue
        guard
            let window = SDL_CreateWindow(
                title, clipcam_SDL_WINDOWPOS_CENTERED(), clipcam_SDL_WINDOWPOS_CENTERED(),
                Int32(size.width), Int32(size.height), flags)
        else {
            throw SDLError.lastError("SDL_CreateWindow(\"\(title)\", \(size))")
        }
        self.video = video
        self.handle = window
    }

    /// The window's size in screen coordinates (may differ from the renderer's output size on HiDPI screens).
    public var size: PixelSize {
        var width: Int32 = 0
        var height: Int32 = 0
        SDL_GetWindowSize(handle, &width, &height)
        return PixelSize(width: Int(width), height: Int(height))
    }

    /// The window's top-left corner on the desktop.
    public var position: (x: Int, y: Int) {
        var x: Int32 = 0
        var y: Int32 = 0
        SDL_GetWindowPosition(handle, &x, &y)
        return (Int(x), Int(y))
    }

    /// Asks for a new size; the window manager (or the screen's size) may grant another. Clamped to the usable
    /// area of the window's display where SDL knows it.
    public func resize(to size: PixelSize) {
        var width = Int32(max(1, size.width))
        var height = Int32(max(1, size.height))
        var bounds = SDL_Rect()
        let display = SDL_GetWindowDisplayIndex(handle)
        if display >= 0, SDL_GetDisplayUsableBounds(display, &bounds) == 0, bounds.w > 0, bounds.h > 0 {
            width = min(width, bounds.w)
            height = min(height, bounds.h)
        }
        SDL_SetWindowSize(handle, width, height)
    }

    public var title: String {
        get { String(cString: SDL_GetWindowTitle(handle)) }
        set { SDL_SetWindowTitle(handle, newValue) }
    }

    deinit {
        SDL_DestroyWindow(handle)
    }
}

/// An SDL surface in XRGB8888 owned by clipcam.
final class Surface {
    let handle: UnsafeMutablePointer<SDL_Surface>

    init(size: PixelSize) throws {
        precondition(size.width > 0 && size.height > 0, "surface size must be positive, got \(size)")
        guard
            let surface = SDL_CreateRGBSurfaceWithFormat(
                0, Int32(size.width), Int32(size.height), 32, SDL_PIXELFORMAT_RGB888.rawValue)
        else {
            throw SDLError.lastError("SDL_CreateRGBSurfaceWithFormat(\(size), XRGB8888)")
        }
        handle = surface
    }

    init(adopting surface: UnsafeMutablePointer<SDL_Surface>) {
        handle = surface
    }

    deinit {
        SDL_FreeSurface(handle)
    }
}

/// A 2D renderer drawing into a window or into an offscreen surface.
public final class Renderer {
    let handle: OpaquePointer
    /// The window or surface drawn into; kept alive for as long as the renderer.
    private let target: AnyObject
    /// True when SDL draws with the CPU (`software` renderer) rather than a GPU API.
    public let isSoftware: Bool
    /// The SDL renderer's name, e.g. `opengl`, `software`.
    public let name: String

    /// A renderer for `window`: hardware accelerated when available, else software. Headless video drivers
    /// (`offscreen`, `dummy`) always get the software renderer.
    public init(window: Window) throws {
        var renderer: OpaquePointer?
        if !window.video.isHeadless {
            renderer = SDL_CreateRenderer(window.handle, -1, SDL_RENDERER_ACCELERATED.rawValue)
        }
        if renderer == nil {
            renderer = SDL_CreateRenderer(window.handle, -1, SDL_RENDERER_SOFTWARE.rawValue)
        }
        guard let renderer else {
            throw SDLError.lastError("SDL_CreateRenderer(window \"\(window.title)\")")
        }
        self.handle = renderer
        self.target = window
        (self.name, self.isSoftware) = Renderer.info(renderer)
        try configure()
    }

    /// A software renderer drawing into `surface`; needs no video subsystem.
    init(surface: Surface) throws {
        guard let renderer = SDL_CreateSoftwareRenderer(surface.handle) else {
            throw SDLError.lastError("SDL_CreateSoftwareRenderer")
        }
        self.handle = renderer
        self.target = surface
        (self.name, self.isSoftware) = Renderer.info(renderer)
        try configure()
    }

    private static func info(_ renderer: OpaquePointer) -> (String, Bool) {
        var info = SDL_RendererInfo()
        guard SDL_GetRendererInfo(renderer, &info) == 0, let name = info.name else { return ("unknown", false) }
        return (String(cString: name), info.flags & SDL_RENDERER_SOFTWARE.rawValue != 0)
    }

    private func configure() throws {
        guard SDL_SetRenderDrawBlendMode(handle, SDL_BLENDMODE_BLEND) == 0 else {
            throw SDLError.lastError("SDL_SetRenderDrawBlendMode(BLEND)")
        }
    }

    /// The size of the drawing area in pixels.
    public var outputSize: PixelSize {
        var width: Int32 = 0
        var height: Int32 = 0
        SDL_GetRendererOutputSize(handle, &width, &height)
        return PixelSize(width: Int(width), height: Int(height))
    }

    /// Fills the whole drawing area with `color`, ignoring alpha.
    public func clear(_ color: Color) throws {
        SDL_SetRenderDrawColor(handle, color.red, color.green, color.blue, 255)
        guard SDL_RenderClear(handle) == 0 else { throw SDLError.lastError("SDL_RenderClear") }
    }

    /// Fills `rect` with `color`, blended by its alpha.
    public func fill(_ rect: PixelRect, _ color: Color) throws {
        guard !rect.isEmpty else { return }
        SDL_SetRenderDrawColor(handle, color.red, color.green, color.blue, color.alpha)
        var sdlRect = SDL_Rect(rect)
        guard SDL_RenderFillRect(handle, &sdlRect) == 0 else { throw SDLError.lastError("SDL_RenderFillRect") }
    }

    /// Draws all of `texture` scaled into `rect`; `tint` multiplies the texture's colours and alpha.
    public func copy(_ texture: Texture, to rect: PixelRect, tint: Color = .white) throws {
        precondition(texture.renderer === self, "texture belongs to another renderer")
        guard !rect.isEmpty else { return }
        SDL_SetTextureColorMod(texture.handle, tint.red, tint.green, tint.blue)
        SDL_SetTextureAlphaMod(texture.handle, tint.alpha)
        var destination = SDL_Rect(rect)
        guard SDL_RenderCopy(handle, texture.handle, nil, &destination) == 0 else {
            throw SDLError.lastError("SDL_RenderCopy(\(texture.size) texture to \(rect))")
        }
    }

    /// Shows what was drawn since the last present (a window's back buffer; for a surface, finishes drawing).
    public func present() {
        SDL_RenderPresent(handle)
    }

    /// Reads the pixels drawn so far (call before `present()` for a window: after it, the back buffer's content
    /// is undefined for GPU renderers).
    public func readPixels() throws -> RGBImage {
        let size = outputSize
        var rgb = [UInt8](repeating: 0, count: size.width * size.height * 3)
        let status = rgb.withUnsafeMutableBytes { raw in
            SDL_RenderReadPixels(
                handle, nil, SDL_PIXELFORMAT_RGB24.rawValue, raw.baseAddress, Int32(size.width * 3))
        }
        guard status == 0 else { throw SDLError.lastError("SDL_RenderReadPixels(\(size))") }
        return RGBImage(width: size.width, height: size.height, rgb: rgb)
    }

    deinit {
        SDL_DestroyRenderer(handle)
    }
}

/// A texture bound to one renderer.
public final class Texture {
    let handle: OpaquePointer
    let renderer: Renderer
    public let size: PixelSize
    public let pixelFormat: UInt32

    init(renderer: Renderer, size: PixelSize, pixelFormat: UInt32, access: SDL_TextureAccess) throws {
        precondition(size.width > 0 && size.height > 0, "texture size must be positive, got \(size)")
        guard
            let texture = SDL_CreateTexture(
                renderer.handle, pixelFormat, Int32(access.rawValue), Int32(size.width), Int32(size.height))
        else {
            let format = String(cString: SDL_GetPixelFormatName(pixelFormat))
            throw SDLError.lastError("SDL_CreateTexture(\(size), \(format))")
        }
        self.handle = texture
        self.renderer = renderer
        self.size = size
        self.pixelFormat = pixelFormat
    }

    /// A static texture holding `argb` (one `UInt32` 0xAARRGGBB per pixel), drawn with alpha blending.
    public convenience init(renderer: Renderer, size: PixelSize, argb: [UInt32]) throws {
        precondition(argb.count == size.width * size.height, "ARGB buffer does not match \(size)")
        try self.init(
            renderer: renderer, size: size, pixelFormat: SDL_PIXELFORMAT_ARGB8888.rawValue,
            access: SDL_TEXTUREACCESS_STATIC)
        SDL_SetTextureBlendMode(handle, SDL_BLENDMODE_BLEND)
        let status = argb.withUnsafeBytes { raw in
            SDL_UpdateTexture(handle, nil, raw.baseAddress, Int32(size.width * 4))
        }
        guard status == 0 else { throw SDLError.lastError("SDL_UpdateTexture(\(size) ARGB8888)") }
    }

    deinit {
        SDL_DestroyTexture(handle)
    }
}

/// The streaming BGR24 texture video frames are uploaded into; re-created when the frame size changes.
public final class VideoTexture {
    private let renderer: Renderer
    public private(set) var texture: Texture?

    public init(renderer: Renderer) {
        self.renderer = renderer
    }

    /// Copies `frame` into the texture.
    public func upload(_ frame: BGRPixels) throws {
        if texture?.size != frame.size {
            texture = nil
            texture = try Texture(
                renderer: renderer, size: frame.size, pixelFormat: SDL_PIXELFORMAT_BGR24.rawValue,
                access: SDL_TEXTUREACCESS_STREAMING)
            // Video is scaled to the window; smooth it rather than repeating pixels.
            SDL_SetTextureScaleMode(texture!.handle, SDL_ScaleModeLinear)
        }
        let texture = texture!
        guard SDL_UpdateTexture(texture.handle, nil, frame.base, Int32(frame.rowBytes)) == 0 else {
            throw SDLError.lastError("SDL_UpdateTexture(\(frame.size) BGR24 video frame)")
        }
    }
}

/// A software-rendered image with no window: draw into `renderer`, then read the pixels or save a PNG.
public final class OffscreenTarget {
    private let surface: Surface
    public let renderer: Renderer
    public let size: PixelSize

    public init(size: PixelSize) throws {
        surface = try Surface(size: size)
        renderer = try Renderer(surface: surface)
        self.size = size
    }

    /// The pixels drawn so far.
    public func image() throws -> RGBImage {
        try renderer.readPixels()
    }

    /// Writes the pixels drawn so far to a PNG file at `path`.
    public func savePNG(path: String) throws {
        renderer.present()
        guard IMG_SavePNG(surface.handle, path) == 0 else {
            throw SDLError.pngWriteFailed(path: path, message: SDLError.currentMessage())
        }
    }
}

extension RGBImage {
    /// Loads an image file (PNG, JPEG, …) with SDL2_image.
    public init(contentsOfFile path: String) throws {
        guard let loaded = IMG_Load(path) else {
            throw SDLError.imageLoadFailed(path: path, message: SDLError.currentMessage())
        }
        let original = Surface(adopting: loaded)
        guard let converted = SDL_ConvertSurfaceFormat(original.handle, SDL_PIXELFORMAT_RGB24.rawValue, 0) else {
            throw SDLError.imageLoadFailed(path: path, message: SDLError.currentMessage())
        }
        let surface = Surface(adopting: converted)
        let width = Int(surface.handle.pointee.w)
        let height = Int(surface.handle.pointee.h)
        let pitch = Int(surface.handle.pointee.pitch)
        let source = UnsafeRawPointer(surface.handle.pointee.pixels!)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBytes { destination in
            for row in 0..<height {
                (destination.baseAddress! + row * width * 3).copyMemory(
                    from: source + row * pitch, byteCount: width * 3)
            }
        }
        self.init(width: width, height: height, rgb: rgb)
    }
}

extension SDL_Rect {
    init(_ rect: PixelRect) {
        self.init(x: Int32(rect.x), y: Int32(rect.y), w: Int32(rect.width), h: Int32(rect.height))
    }
}
