// A V4L2 camera as a frame source; the device protocol is in V4L2Device.swift.
import CV4L2
import Glibc

/// Frames from a V4L2 camera, converted to BGR24 by libv4l2.
public final class CameraSource: FrameSource {
    public let device: String
    public let options: CaptureOptions
    public let stopSignal = StopSignal()
    public private(set) var format = SourceFormat(width: 0, height: 0, fps: nil)
    /// The card name from QUERYCAP, e.g. "HD Webcam C525".
    public private(set) var card = ""
    /// Frames the driver skipped (gaps in its sequence numbers) because no buffer was free.
    public private(set) var droppedByDevice = 0
    /// Frames delivered with the error flag or too few bytes, and skipped.
    public private(set) var corruptFrames = 0
    /// How often the device disappeared and came back (with `options.reconnect`).
    public private(set) var reconnections = 0

    private var camera: V4L2Device?
    private var bytesPerLine = 0
    private var lastSequence: UInt32?
    private var delivered = 0
    private var startTime = 0.0

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
    }

    public func stop() {
        camera?.close()
        camera = nil
    }

    /// Opens the device and brings it to streaming: capabilities, format, rate, buffers.
    private func setUp() throws -> V4L2Device {
        let camera = try V4L2Device(path: device)

        var capability = v4l2_capability()
        try camera.ioctl(.queryCapability, &capability)
        card = cString(capability.card)
        let capabilities =
            capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0
            ? capability.device_caps : capability.capabilities
        guard capabilities & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else {
            throw CameraError.notCaptureDevice(device: device, card: card)
        }
        guard capabilities & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw CameraError.noStreaming(device: device, card: card)
        }

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

        format = SourceFormat(width: width, height: height, fps: try negotiateRate(camera))

        let count = try camera.mapBuffers(count: options.bufferCount)
        guard count >= 2 else { throw CameraError.tooFewBuffers(device: device, granted: count) }
        for index in 0..<count {
            try camera.queue(index)
        }
        try camera.streamOn()
        lastSequence = nil
        return camera
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
                if let frame = try capture(from: camera) { return frame }
                return nil
            } catch CameraError.unplugged(let device) where options.reconnect {
                camera.close()
                self.camera = nil
                options.log?("\(device) disappeared; waiting for it to return")
                guard let restored = try waitForDevice() else { return nil }
                self.camera = restored
                reconnections += 1
                options.log?("\(device) is back: \(format)")
            }
        }
    }

    /// Waits for a frame and copies it out; nil when the stop signal is raised.
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
                continue
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                throw CameraError.unplugged(device: device)
            }
            let frame = copyFrame(buffer, from: camera)
            do {
                try camera.queue(Int(buffer.index))
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                throw CameraError.unplugged(device: device)
            }
            if let frame { return frame }
            deadline = MonotonicClock.now() + options.frameTimeout
        }
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

    /// Polls for the device to come back, then sets it up again; nil if stopped meanwhile.
    private func waitForDevice() throws -> V4L2Device? {
        while !stopSignal.wait(seconds: 0.25) {
            do {
                return try setUp()
            } catch CameraError.missing, CameraError.busy, CameraError.unplugged {
                continue
            } catch CameraError.ioctlFailed(_, _, let code) where code == ENODEV || code == EIO {
                continue
            }
        }
        return nil
    }
}
