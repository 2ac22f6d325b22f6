import CSDL2

/// What the user asked for through the window.
public enum DisplayEvent: Equatable, Sendable {
    /// Window closed, `q`, or Esc while not typing a prompt.
    case quit
    /// Space.
    case togglePause
    /// `p`.
    case nextPrompt
    /// A prompt is being typed after `/`; the text so far (empty right after `/`).
    case promptDraft(String)
    /// Esc while typing, or Enter on an empty prompt.
    case promptCancelled
    /// Enter after typing a prompt; the text, without surrounding spaces.
    case newPrompt(String)
    /// The drawing area changed size.
    case resized(PixelSize)
    /// `g`: show or hide the plot strip.
    case togglePlot
    /// `1`–`9`: show or hide prompt n − 1's line.
    case toggleSeries(Int)
    /// ← / →: one sampled frame back (−1) or on (+1).
    case step(Int)
    /// Shift + ← / →: seconds back (negative) or on.
    case skip(Double)
    /// Home / End.
    case toStart
    case toEnd
    /// The left mouse button went down at a point of the drawing area, or moved while held.
    case press(x: Int, y: Int)
    case drag(x: Int, y: Int)
    case release
}

/// Turns SDL events into `DisplayEvent`s and holds the state of prompt typing.
public struct DisplayEventMapper {
    /// The prompt being typed, or nil when not typing.
    public private(set) var draft: String?
    /// Timestamp of the `/` key press that started typing: its own text event (sent by SDL within the same
    /// millisecond or two, when text input was already on) is not part of the prompt.
    private var startTimestamp: UInt32?
    /// The left button is down (motion then drags).
    private var buttonHeld = false

    public init() {}

    public var isTyping: Bool { draft != nil }

    public mutating func map(_ event: SDL_Event) -> [DisplayEvent] {
        switch SDL_EventType(event.type) {
        case SDL_QUIT:
            return [.quit]
        case SDL_WINDOWEVENT:
            switch SDL_WindowEventID(UInt32(event.window.event)) {
            case SDL_WINDOWEVENT_CLOSE:
                return [.quit]
            case SDL_WINDOWEVENT_SIZE_CHANGED:
                return [.resized(PixelSize(width: Int(event.window.data1), height: Int(event.window.data2)))]
            default:
                return []
            }
        case SDL_KEYDOWN:
            return keyDown(event.key)
        case SDL_TEXTINPUT:
            return text(event.text)
        case SDL_MOUSEBUTTONDOWN where event.button.button == UInt8(SDL_BUTTON_LEFT):
            buttonHeld = true
            return [.press(x: Int(event.button.x), y: Int(event.button.y))]
        case SDL_MOUSEMOTION where buttonHeld:
            return [.drag(x: Int(event.motion.x), y: Int(event.motion.y))]
        case SDL_MOUSEBUTTONUP where event.button.button == UInt8(SDL_BUTTON_LEFT):
            buttonHeld = false
            return [.release]
        default:
            return []
        }
    }

    private mutating func keyDown(_ key: SDL_KeyboardEvent) -> [DisplayEvent] {
        let code = key.keysym.sym
        if var text = draft {
            switch code {
            case SDLKey.escape:
                return cancel()
            case SDLKey.return, SDLKey.keypadEnter:
                let prompt = text.trimmingSpaces()
                draft = nil
                startTimestamp = nil
                return prompt.isEmpty ? [.promptCancelled] : [.newPrompt(prompt)]
            case SDLKey.backspace:
                guard !text.isEmpty else { return [] }
                text.removeLast()
                draft = text
                return [.promptDraft(text)]
            default:
                // Letters arrive as text events; other keys do nothing while typing.
                return []
            }
        }
        let shift = key.keysym.mod & UInt16(KMOD_SHIFT.rawValue) != 0
        // Seeking keys repeat while held; the others act once per press.
        switch code {
        case SDLKey.left: return [shift ? .skip(-10) : .step(-1)]
        case SDLKey.right: return [shift ? .skip(10) : .step(1)]
        default: break
        }
        guard key.repeat == 0 else { return [] }
        if (SDLKey.one...SDLKey.nine).contains(code) {
            return [.toggleSeries(Int(code - SDLKey.one))]
        }
        switch code {
        case SDLKey.g:
            return [.togglePlot]
        case SDLKey.home:
            return [.toStart]
        case SDLKey.end:
            return [.toEnd]
        case SDLKey.q, SDLKey.escape:
            return [.quit]
        case SDLKey.space:
            return [.togglePause]
        case SDLKey.p:
            return [.nextPrompt]
        case SDLKey.slash, SDLKey.keypadDivide:
            draft = ""
            startTimestamp = key.timestamp
            return [.promptDraft("")]
        default:
            return []
        }
    }

    private mutating func text(_ input: SDL_TextInputEvent) -> [DisplayEvent] {
        guard var text = draft else { return [] }
        let typed = withUnsafeBytes(of: input.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if text.isEmpty, let start = startTimestamp, input.timestamp &- start <= 2, typed.hasPrefix("/") {
            // The `/` that opened the prompt.
            startTimestamp = nil
            let rest = typed.dropFirst()
            guard !rest.isEmpty else { return [] }
            text += rest
        } else {
            text += typed
        }
        draft = text
        return [.promptDraft(text)]
    }

    private mutating func cancel() -> [DisplayEvent] {
        draft = nil
        startTimestamp = nil
        return [.promptCancelled]
    }
}

/// SDL key codes as `SDL_Keycode` values.
enum SDLKey {
    static let escape = SDL_Keycode(SDLK_ESCAPE.rawValue)
    static let `return` = SDL_Keycode(SDLK_RETURN.rawValue)
    static let keypadEnter = SDL_Keycode(SDLK_KP_ENTER.rawValue)
    static let backspace = SDL_Keycode(SDLK_BACKSPACE.rawValue)
    static let q = SDL_Keycode(SDLK_q.rawValue)
    static let p = SDL_Keycode(SDLK_p.rawValue)
    static let space = SDL_Keycode(SDLK_SPACE.rawValue)
    static let slash = SDL_Keycode(SDLK_SLASH.rawValue)
    static let keypadDivide = SDL_Keycode(SDLK_KP_DIVIDE.rawValue)
    static let g = SDL_Keycode(SDLK_g.rawValue)
    static let one = SDL_Keycode(SDLK_1.rawValue)
    static let nine = SDL_Keycode(SDLK_9.rawValue)
    static let left = SDL_Keycode(SDLK_LEFT.rawValue)
    static let right = SDL_Keycode(SDLK_RIGHT.rawValue)
    static let home = SDL_Keycode(SDLK_HOME.rawValue)
    static let end = SDL_Keycode(SDLK_END.rawValue)
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var characters = Substring(self)
        while characters.first?.isWhitespace == true { characters.removeFirst() }
        while characters.last?.isWhitespace == true { characters.removeLast() }
        return String(characters)
    }
}
