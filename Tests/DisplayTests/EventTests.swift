import CSDL2
import Testing

@testable import Display

func keyDown(_ key: SDL_KeyCode, timestamp: UInt32 = 100, repeat isRepeat: Bool = false) -> SDL_Event {
    var event = SDL_Event()
    event.key.type = SDL_KEYDOWN.rawValue
    event.key.timestamp = timestamp
    event.key.state = UInt8(SDL_PRESSED)
    event.key.repeat = isRepeat ? 1 : 0
    event.key.keysym.sym = SDL_Keycode(key.rawValue)
    return event
}

func textInput(_ text: String, timestamp: UInt32 = 200) -> SDL_Event {
    var event = SDL_Event()
    event.text.type = SDL_TEXTINPUT.rawValue
    event.text.timestamp = timestamp
    let bytes = Array(text.utf8)
    precondition(bytes.count < 32, "SDL text events hold at most 31 bytes")
    withUnsafeMutableBytes(of: &event.text.text) { raw in
        for (i, byte) in bytes.enumerated() { raw[i] = byte }
    }
    return event
}

func windowEvent(_ id: SDL_WindowEventID, _ data1: Int32 = 0, _ data2: Int32 = 0) -> SDL_Event {
    var event = SDL_Event()
    event.window.type = SDL_WINDOWEVENT.rawValue
    event.window.event = UInt8(id.rawValue)
    event.window.data1 = data1
    event.window.data2 = data2
    return event
}

@Suite struct EventMapperTests {
    func run(_ events: [SDL_Event]) -> ([DisplayEvent], DisplayEventMapper) {
        var mapper = DisplayEventMapper()
        let mapped = events.flatMap { mapper.map($0) }
        return (mapped, mapper)
    }

    @Test func commandKeys() {
        #expect(run([keyDown(SDLK_q)]).0 == [.quit])
        #expect(run([keyDown(SDLK_ESCAPE)]).0 == [.quit])
        #expect(run([keyDown(SDLK_SPACE)]).0 == [.togglePause])
        #expect(run([keyDown(SDLK_p)]).0 == [.nextPrompt])
        #expect(run([keyDown(SDLK_a), keyDown(SDLK_F1), keyDown(SDLK_RETURN), keyDown(SDLK_BACKSPACE)]).0 == [])
        // Held keys repeat; a held space must not flicker pause on and off.
        #expect(run([keyDown(SDLK_SPACE), keyDown(SDLK_SPACE, repeat: true)]).0 == [.togglePause])
        // Text typed while not in a prompt is ignored.
        #expect(run([textInput("q p")]).0 == [])
    }

    @Test func windowEvents() {
        var quit = SDL_Event()
        quit.type = SDL_QUIT.rawValue
        #expect(run([quit]).0 == [.quit])
        #expect(run([windowEvent(SDL_WINDOWEVENT_CLOSE)]).0 == [.quit])
        #expect(
            run([windowEvent(SDL_WINDOWEVENT_SIZE_CHANGED, 1024, 700)]).0
                == [.resized(PixelSize(width: 1024, height: 700))])
        #expect(run([windowEvent(SDL_WINDOWEVENT_EXPOSED), windowEvent(SDL_WINDOWEVENT_MOVED, 5, 5)]).0 == [])
    }

    @Test func plotAndSeekingKeysAndTheMouse() {
        var shifted = keyDown(SDLK_RIGHT)
        shifted.key.keysym.mod = UInt16(KMOD_LSHIFT.rawValue)
        var press = SDL_Event()
        press.button.type = SDL_MOUSEBUTTONDOWN.rawValue
        press.button.button = UInt8(SDL_BUTTON_LEFT)
        (press.button.x, press.button.y) = (120, 340)
        var motion = SDL_Event()
        motion.motion.type = SDL_MOUSEMOTION.rawValue
        (motion.motion.x, motion.motion.y) = (150, 345)
        var release = press
        release.button.type = SDL_MOUSEBUTTONUP.rawValue
        let (events, _) = run([
            keyDown(SDLK_g), keyDown(SDLK_1), keyDown(SDLK_9), keyDown(SDLK_LEFT), keyDown(SDLK_RIGHT, repeat: true),
            shifted, keyDown(SDLK_HOME), keyDown(SDLK_END), motion, press, motion, release, motion,
        ])
        #expect(
            events == [
                .togglePlot, .toggleSeries(0), .toggleSeries(8), .step(-1), .step(1), .skip(10), .toStart, .toEnd,
                .press(x: 120, y: 340), .drag(x: 150, y: 345), .release,
            ])
        // While a prompt is typed, g and digits are text, not commands.
        let (typing, _) = run([keyDown(SDLK_SLASH), keyDown(SDLK_g), keyDown(SDLK_1), textInput("g1")])
        #expect(typing == [.promptDraft(""), .promptDraft("g1")])
    }

    @Test func typingAPrompt() {
        let (events, mapper) = run([
            keyDown(SDLK_SLASH, timestamp: 100),
            textInput("/", timestamp: 100),  // the slash's own text
            textInput("a ", timestamp: 150),
            keyDown(SDLK_q, timestamp: 160),  // letters are text while typing, not commands
            textInput("qu", timestamp: 160),
            keyDown(SDLK_BACKSPACE, timestamp: 170),
            textInput("ü/ 猫", timestamp: 180),
            keyDown(SDLK_SPACE, timestamp: 190),
            textInput("  ", timestamp: 190),
            keyDown(SDLK_RETURN, timestamp: 200),
        ])
        #expect(
            events == [
                .promptDraft(""), .promptDraft("a "), .promptDraft("a qu"), .promptDraft("a q"),
                .promptDraft("a qü/ 猫"), .promptDraft("a qü/ 猫  "), .newPrompt("a qü/ 猫"),
            ])
        #expect(mapper.draft == nil)
        // After submitting, keys are commands again.
        var after = mapper
        #expect(after.map(keyDown(SDLK_q)) == [.quit])
    }

    @Test func escapeCancelsTypingAndEmptyPromptsAreCancelled() {
        let (escaped, afterEscape) = run([
            keyDown(SDLK_SLASH), textInput("dog", timestamp: 300), keyDown(SDLK_ESCAPE),
        ])
        #expect(escaped == [.promptDraft(""), .promptDraft("dog"), .promptCancelled])
        #expect(afterEscape.draft == nil)
        let (empty, _) = run([keyDown(SDLK_KP_DIVIDE), textInput("   ", timestamp: 300), keyDown(SDLK_KP_ENTER)])
        #expect(empty == [.promptDraft(""), .promptDraft("   "), .promptCancelled])
        // Backspace on an empty draft does nothing; a slash typed later is text.
        let (backspace, mapper) = run([
            keyDown(SDLK_SLASH), keyDown(SDLK_BACKSPACE), textInput("/", timestamp: 900),
        ])
        #expect(backspace == [.promptDraft(""), .promptDraft("/")])
        #expect(mapper.draft == "/")
    }
}

/// A window on SDL's `offscreen` video driver: events go through SDL's real queue, drawing through the window's
/// software renderer.
extension SDLTests {
    @Suite struct OffscreenWindowTests {
        @Test func pushedEventsComeBackMapped() throws {
            let fonts = try loadFonts()
            let display = try DisplayWindow(
                title: "clipcam events", size: PixelSize(width: 320, height: 240), fonts: fonts,
                videoDriver: "offscreen")
            #expect(display.video.driver == "offscreen" && display.renderer.isSoftware)
            _ = display.pollEvents()  // whatever the window's creation queued
            #expect(SDL_IsTextInputActive() == SDL_FALSE)

            func push(_ events: SDL_Event...) throws {
                for var event in events {
                    #expect(SDL_PushEvent(&event) == 1, "SDL_PushEvent: \(String(cString: SDL_GetError()))")
                }
            }
            try push(keyDown(SDLK_SPACE), keyDown(SDLK_p))
            #expect(display.pollEvents() == [.togglePause, .nextPrompt])
            #expect(display.pollEvents() == [])

            try push(keyDown(SDLK_SLASH))
            #expect(display.pollEvents() == [.promptDraft("")])
            #expect(SDL_IsTextInputActive() == SDL_TRUE, "typing turns SDL text input on")
            #expect(display.promptDraft == "")
            try push(textInput("red"), textInput(" car"), keyDown(SDLK_BACKSPACE), keyDown(SDLK_RETURN))
            #expect(
                display.pollEvents() == [
                    .promptDraft("red"), .promptDraft("red car"), .promptDraft("red ca"), .newPrompt("red ca"),
                ])
            #expect(SDL_IsTextInputActive() == SDL_FALSE, "submitting turns SDL text input off")

            try push(keyDown(SDLK_SLASH), textInput("x"), keyDown(SDLK_ESCAPE), keyDown(SDLK_ESCAPE))
            #expect(display.pollEvents() == [.promptDraft(""), .promptDraft("x"), .promptCancelled, .quit])

            var quit = SDL_Event()
            quit.type = SDL_QUIT.rawValue
            try push(windowEvent(SDL_WINDOWEVENT_SIZE_CHANGED, 500, 400), quit)
            #expect(display.pollEvents() == [.resized(PixelSize(width: 500, height: 400)), .quit])
        }

        @Test func resizingTheWindowIsReportedAndRelaysTheOverlay() throws {
            let fonts = try loadFonts()
            let display = try DisplayWindow(
                size: PixelSize(width: 320, height: 240), fonts: fonts, videoDriver: "offscreen")
            _ = display.pollEvents()
            SDL_SetWindowSize(display.window.handle, 640, 360)
            #expect(display.pollEvents().contains(.resized(PixelSize(width: 640, height: 360))))
            #expect(display.window.size == PixelSize(width: 640, height: 360))
            let model = OverlayModel(
                scores: .single(.init(prompt: "a dog", cosine: 0.275)), status: sampleStatus)
            let frame = solidFrame(width: 64, height: 48, Color(red: 10, green: 200, blue: 10))
            let layout = try BGRPixels.withPixels(of: frame, width: 64, height: 48) {
                try display.draw(frame: $0, overlay: model)
            }
            #expect(layout.size == PixelSize(width: 640, height: 360))
            let image = try display.renderer.readPixels()
            display.present()
            #expect(image.size == PixelSize(width: 640, height: 360))
            // The video is laid out in the new size, beside or below the panel, and drawn where laid out.
            let video = layout.video
            #expect(video.maxX <= 640 && video.maxY <= 360 && video.width > 320)
            #expect(
                image[video.x + video.width / 2, video.y + video.height / 2] == Color(red: 10, green: 200, blue: 10))
            let bar = try #require(layout.bars.first)
            let y = bar.track.y + bar.track.height / 2
            #expect(
                abs((0..<640).filter { image[$0, y] == OverlayStyle.barFill }.count - bar.track.width / 2) <= 1)
        }

        @Test func unknownDriverIsAnErrorNamingIt() throws {
            #expect {
                _ = try SDLVideo(driver: "no-such-driver")
            } throws: { error in
                "\(error)".contains("no-such-driver")
            }
        }
    }
}
