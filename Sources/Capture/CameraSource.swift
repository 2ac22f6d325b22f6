// A V4L2 camera as a frame source; the device protocol is in V4L2Device.swift, the list of devices in
// CameraDevices.swift.
import CV4L2
import Glibc

/// Frames from a V4L2 camera, converted to BGR24 by libv4l2 (libv4lconvert decodes MJPEG and converts YUYV).
///
/// A failed DQBUF or QBUF is told apart by asking the driver what it still answers: a device that no longer
/// answers QUERYCAP was unplugged (`CameraError.unplugged`); one that answers while libv4lconvert converts its
/// frames sends frames that cannot be decoded (`undecodableFrames`), which is also what a stream of announced
/// frames none of which converts means; otherwise the driver failed (`streamFailed`). With `options.reconnect`
/// an unplugged camera is waited for and the others are reopened, but never more than `reopensWithoutFrame`
/// times in a row without a frame in between (`gaveUp`).
public final class CameraSource: FrameSource {
    public let device: String
    public let options: CaptureOptions
    public let stopSignal = StopSignal()
    public private(set) var format = SourceFormat(width: 0, height: 0, fps: nil)
    /// The card name from QUERYCAP, e.g. "HD Webcam C525".
    public private(set) var card = ""
    /// The format the camera sends, e.g. "MJPG", which libv4lconvert converts unless it is BGR3 itself; nil when
    /// the driver does not say.
    public private(set) var driverFormat: String?
    /// Frames the driver skipped (gaps in its sequence numbers) because no buffer was free.
    public private(set) var droppedByDevice = 0
    /// Frames delivered with the error flag or too few bytes, and skipped.
    public private(set) var corruptFrames = 0
    /// How often the device disappeared and came back (with `options.reconnect`).
    public private(set) var reconnections = 0

    /// How often, with `options.reconnect`, the camera is reopened in a row without delivering a frame before
    /// the source gives up with the last error.
    public static let reopensWithoutFrame = 3
    /// Frames in a row that the driver announces (poll) but libv4l2 cannot convert (DQBUF answers EAGAIN) after
    /// which the frames count as undecodable. libv4l2 itself passes over 3 bad frames after STREAMON.
    static let undecodableStreak = 12

    private var camera: V4L2Device?
    private var bytesPerLine = 0
    private var lastSequence: UInt32?
    private var delivered = 0
    private var startTime = 0.0
    /// The driver's own format (fourcc, width, height) while libv4lconvert converts it; nil otherwise.
    private var converted: (fourcc: String, width: Int, height: Int)?
    /// The camera's formats, sizes and rates in words, for messages.
    private var offered = ""
    private var reopenedWithoutFrame = 0
    private var announcedWithoutFrame = 0
    private let messages = LibV4L2Messages.shared

    public init(device: String = "/dev/video0", options: CaptureOptions = CaptureOptions()) {
        self.device = device
        self.options = options
    }

    deinit {
        stop()
    }

    public var name: String {
        card.isEmpty ? "camera \(device)" : "camera \(device) (\(card))"
    }

    public func start() throws {
        precondition(camera == nil, "CameraSource started twice")
        startTime = MonotonicClock.now()
        camera = try setUp()
        reportGrantedFormat()
    }

    public func stop() {
        camera?.close()
        camera = nil
    }

    /// Opens the device and brings it to streaming: capabilities, format, rate, buffers.
    private func setUp() throws -> V4L2Device {
        messages.clear()
        let camera = try V4L2Device(path: device)

        let capability = try camera.capability()
        card = capability.card
        guard capability.isVideoCapture else {
            if capability.isMetadata {
                throw CameraError.metadataNode(
                    device: device, card: card,
                    captureNode: CameraDevices.captureNode(besides: device, bus: capability.bus))
            }
            throw CameraError.notCaptureDevice(device: device, card: card)
        }
        guard capability.canStream else {
            throw CameraError.noStreaming(device: device, card: card)
        }
        offered = CameraDevices.describe(CameraDevices.formats(of: camera))

        var requested = v4l2_format()
        requested.type = bufferTypeCapture
        requested.fmt.pix.width = UInt32(options.width)
        requested.fmt.pix.height = UInt32(options.height)
        requested.fmt.pix.pixelformat = pixelFormatBGR24
        requested.fmt.pix.field = UInt32(V4L2_FIELD_ANY.rawValue)
        do {
            try camera.ioctl(.setFormat, &requested)
        } catch CameraError.ioctlFailed(_, _, let code) where code == EINVAL {
            throw CameraError.noUsableFormat(device: device, granted: "none", offered: offeredFormats(camera))
        } catch CameraError.ioctlFailed(_, _, let code) where code == EBUSY {
            throw CameraError.busy(device: device)
        }
        var granted = v4l2_format()
        granted.type = bufferTypeCapture
        try camera.ioctl(.getFormat, &granted)
        let pix = granted.fmt.pix
        guard pix.pixelformat == pixelFormatBGR24, pix.width > 0, pix.height > 0 else {
            throw CameraError.noUsableFormat(
                device: device, granted: fourccText(pix.pixelformat), offered: offeredFormats(camera))
        }
        let width = Int(pix.width)
        let height = Int(pix.height)
        bytesPerLine = max(Int(pix.bytesperline), width * 3)
        readDriverFormat(camera)

        format = SourceFormat(width: width, height: height, fps: try negotiateRate(camera))

        let count: Int
        do {
            count = try camera.mapBuffers(count: options.bufferCount)
        } catch CameraError.ioctlFailed(_, let request, let code)
            where code == EBUSY && request == V4L2Request.requestBuffers.name
        {
            throw CameraError.busy(device: device)
        }
        guard count >= 2 else { throw CameraError.tooFewBuffers(device: device, granted: count) }
        for index in 0..<count {
            try camera.queue(index)
        }
        try camera.streamOn()
        lastSequence = nil
        announcedWithoutFrame = 0
        return camera
    }

    /// What the camera itself sends (G_FMT past libv4l2), and so whether libv4lconvert converts it.
    private func readDriverFormat(_ camera: V4L2Device) {
        var sent = v4l2_format()
        sent.type = bufferTypeCapture
        guard (try? camera.driverIoctl(.getFormat, &sent)) != nil, sent.fmt.pix.pixelformat != 0 else {
            driverFormat = nil
            converted = nil
            return
        }
        let pix = sent.fmt.pix
        driverFormat = fourccText(pix.pixelformat)
        converted =
            pix.pixelformat == pixelFormatBGR24 ? nil : (fourccText(pix.pixelformat), Int(pix.width), Int(pix.height))
    }

    /// Logs what was asked and what was granted when they differ: the size, and the rate when one was asked.
    private func reportGrantedFormat() {
        let sizeDiffers = format.width != options.width || format.height != options.height
        let rateDiffers = options.fps.map { asked in format.fps.map { abs($0 - asked) > asked * 0.005 } ?? true }
        guard sizeDiffers || rateDiffers == true else { return }
        let asked = "\(options.width)x\(options.height)" + (options.fps.map { " @ \(formatRate($0)) fps" } ?? "")
        var notes: [String] = []
        if let converted { notes.append("sent as \(converted.fourcc)") }
        if !offered.isEmpty { notes.append("the camera offers \(offered)") }
        options.log?(
            "camera \(device): asked \(asked), got \(format)"
                + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")"))
    }

    /// Asks for `options.fps` when the driver can change its rate, then reports what it runs at.
    private func negotiateRate(_ camera: V4L2Device) throws -> Double? {
        var current = v4l2_streamparm()
        current.type = bufferTypeCapture
        do {
            try camera.ioctl(.getParameters, &current)
        } catch CameraError.ioctlFailed(_, _, let code) where code == EINVAL || code == ENOTTY {
            return nil
        }
        if let fps = options.fps, current.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0 {
            var request = v4l2_streamparm()
            request.type = bufferTypeCapture
            let denominator = (fps * 1000).rounded()
            request.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32(denominator))
            try camera.ioctl(.setParameters, &request)
            current = v4l2_streamparm()
            current.type = bufferTypeCapture
            try camera.ioctl(.getParameters, &current)
        }
        let period = current.parm.capture.timeperframe
        guard period.numerator > 0, period.denominator > 0 else { return nil }
        return Double(period.denominator) / Double(period.numerator)
    }

    private func offeredFormats(_ camera: V4L2Device) -> [String] {
        var names: [String] = []
        for index in 0..<64 {
            var description = v4l2_fmtdesc()
            description.index = UInt32(index)
            description.type = bufferTypeCapture
            guard (try? camera.ioctl(.enumerateFormat, &description)) != nil else { break }
            names.append(fourccText(description.pixelformat))
        }
        return names
    }

    public func nextFrame() throws -> Frame? {
        precondition(startTime > 0, "CameraSource.nextFrame before start")
        while true {
            guard let camera else { return nil }
            do {
                guard let frame = try capture(from: camera) else { return nil }
                reopenedWithoutFrame = 0
                return frame
            } catch let error as CameraError where options.reconnect && error.endsStream {
                camera.close()
                self.camera = nil
                reopenedWithoutFrame += 1
                guard reopenedWithoutFrame <= Self.reopensWithoutFrame else {
                    throw CameraError.gaveUp(attempts: Self.reopensWithoutFrame, last: error)
                }
                if case .unplugged = error {
                    options.log?("\(device) disappeared; waiting for it to return")
                } else {
                    options.log?(
                        "\(device): \(error.reopenReason); reopening it (\(reopenedWithoutFrame) of "
                            + "\(Self.reopensWithoutFrame) times without a frame)")
                }
                guard let restored = try waitForDevice() else { return nil }
                self.camera = restored
                if case .unplugged = error {
                    reconnections += 1
                    options.log?("\(device) is back: \(format)")
                }
            }
        }
    }

    /// Waits for a frame and copies it out; nil when the stop signal is raised. Every wait ends by
    /// `options.frameTimeout` at the latest.
    private func capture(from camera: V4L2Device) throws -> Frame? {
        var deadline = MonotonicClock.now() + options.frameTimeout
        while true {
            var entries = [
                pollfd(fd: camera.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopSignal.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            let left = deadline - MonotonicClock.now()
            if left <= 0 { throw CameraError.timeout(device: device, seconds: options.frameTimeout) }
            let ready = poll(&entries, 2, Int32((left * 1000).rounded(.up)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw CameraError.ioctlFailed(device: device, ioctl: "poll", errno: errno)
            }
            if stopSignal.isRaised { return nil }
            if ready == 0 { continue }

            var buffer = v4l2_buffer()
            buffer.type = bufferTypeCapture
            buffer.memory = memoryMMap
            do {
                try camera.ioctl(.dequeueBuffer, &buffer)
            } catch CameraError.ioctlFailed(_, _, let code) where code == EAGAIN {
                let events = entries[0].revents
                // An error condition that DQBUF does not report would make poll return at once forever.
                if events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { throw streamFailure(camera, errno: EIO) }
                if events & Int16(POLLIN) != 0 { try announcedFrameDidNotConvert(camera) }
                continue
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                throw streamFailure(camera, errno: code)
            }
            announcedWithoutFrame = 0
            messages.clear()
            let frame = copyFrame(buffer, from: camera)
            do {
                try camera.queue(Int(buffer.index))
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                throw streamFailure(camera, errno: code)
            }
            if let frame { return frame }
            deadline = MonotonicClock.now() + options.frameTimeout
        }
    }

    /// The driver announced a frame but libv4l2 had none to give: it could not convert it. Many in a row, while
    /// the device still answers, mean its frames cannot be decoded.
    private func announcedFrameDidNotConvert(_ camera: V4L2Device) throws {
        guard converted != nil else { return }
        announcedWithoutFrame += 1
        if announcedWithoutFrame >= Self.undecodableStreak {
            throw streamFailure(camera, errno: EIO)
        }
    }

    /// What a failed DQBUF or QBUF means; see the type's description.
    private func streamFailure(_ camera: V4L2Device, errno code: Int32) -> CameraError {
        var capability = v4l2_capability()
        guard code != ENODEV, (try? camera.driverIoctl(.queryCapability, &capability)) != nil else {
            return .unplugged(device: device)
        }
        guard let converted else { return .streamFailed(device: device, errno: code) }
        return .undecodableFrames(
            device: device, card: card, format: converted.fourcc, width: converted.width, height: converted.height,
            reason: messages.conversionFailure(), offered: offered)
    }

    /// Copies a dequeued buffer into a packed frame, dropping any row padding; nil for a corrupt buffer.
    private func copyFrame(_ buffer: v4l2_buffer, from camera: V4L2Device) -> Frame? {
        if let last = lastSequence, buffer.sequence > last &+ 1 {
            droppedByDevice += Int(buffer.sequence - last - 1)
        }
        lastSequence = buffer.sequence

        let width = format.width
        let height = format.height
        let rowBytes = width * 3
        let needed = bytesPerLine * (height - 1) + rowBytes
        let source = camera.buffers[Int(buffer.index)]
        let used = buffer.bytesused == 0 ? source.count : Int(buffer.bytesused)
        guard buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) == 0, used >= needed, source.count >= needed else {
            corruptFrames += 1
            options.log?("\(device): skipped a corrupt frame (\(used) of \(needed) bytes)")
            return nil
        }
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * height) { destination, count in
            let base = source.baseAddress!
            for row in 0..<height {
                (destination.baseAddress! + row * rowBytes)
                    .update(from: (base + row * bytesPerLine).assumingMemoryBound(to: UInt8.self), count: rowBytes)
            }
            count = rowBytes * height
        }
        let frame = Frame(
            index: delivered, timestamp: MonotonicClock.now() - startTime, width: width, height: height,
            bgr: pixels)
        delivered += 1
        return frame
    }

    /// Polls for the device to come back (or to open again), then sets it up; nil if stopped meanwhile.
    private func waitForDevice() throws -> V4L2Device? {
        while !stopSignal.wait(seconds: 0.25) {
            do {
                return try setUp()
            } catch CameraError.missing, CameraError.noDriver, CameraError.busy, CameraError.unplugged {
                continue
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                continue
            }
        }
        return nil
    }
}

extension CameraError {
    /// A failure of a streaming camera that reopening it may cure.
    var endsStream: Bool {
        switch self {
        case .unplugged, .undecodableFrames, .streamFailed: return true
        default: return false
        }
    }

    /// Why a streaming camera is reopened, in a few words.
    fileprivate var reopenReason: String {
        switch self {
        case .undecodableFrames(_, _, let format, _, _, let reason, _):
            return "its \(format) frames cannot be decoded" + (reason.map { " (\($0))" } ?? "")
        case .streamFailed(_, let code): return "streaming failed (\(errnoText(code)))"
        default: return description
        }
    }
}
