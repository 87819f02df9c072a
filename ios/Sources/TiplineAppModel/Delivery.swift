// The platform's signals (NWPathMonitor, the app becoming active, BGTaskScheduler) turned into
// flushes of the core's outbox, which owns retries, back-off and resumption. When the phone's
// network returns, the core makes due at once the items that waited only for it.
import Foundation
import TiplineFFI

@MainActor
public final class DeliveryModel: ObservableObject {
    @Published public private(set) var online = true
    @Published public private(set) var flushing = false
    @Published public private(set) var last: FlushSummary?
    @Published public private(set) var notice: Notice?
    private let client: TiplineClientProtocol
    private let settings: SettingsModel

    init(client: TiplineClientProtocol, settings: SettingsModel) {
        self.client = client
        self.settings = settings
    }

    public func onNetworkAvailable() {
        online = true
        Task {
            _ = try? await client.retryWaitingForNetwork()
            await flushNow()
        }
    }

    public func onNetworkLost() {
        online = false
    }

    public func onForeground() {
        flushSoon()
    }

    public func flushSoon() {
        Task { await flushNow() }
    }

    /// Flushes and waits (background tasks call this); nil when the flush itself failed.
    @discardableResult
    public func flushNow() async -> FlushSummary? {
        flushing = true
        defer { flushing = false }
        do {
            let summary = try await client.flush()
            last = summary
            notice = nil
            return summary
        } catch {
            notice = settings.text.notice(error)
            return nil
        }
    }

    /// Whether background work should stay scheduled: something still waits.
    public func needsBackgroundWork(_ summary: FlushSummary?) -> Bool {
        guard let summary else { return true }
        return summary.pending > 0
    }
}
