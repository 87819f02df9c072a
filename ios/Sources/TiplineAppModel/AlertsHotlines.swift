// Alerts for the reporter's region (verified by the core) and hotlines with "open now" (worked
// out by the core in each line's time zone) and the `tel:` URI to dial.
import Foundation
import TiplineFFI

public struct AlertRow: Identifiable, Equatable {
    public let alertId: String
    public let unitName: String
    public let severity: Severity
    public let severityLabel: String
    public let title: String
    public let body: String
    public let expires: String
    public var id: String { alertId }
}

@MainActor
public final class AlertsModel: ObservableObject {
    @Published public private(set) var region: String?
    @Published public private(set) var alerts: [AlertRow] = []
    @Published public private(set) var loading = false
    @Published public private(set) var notice: Notice?
    private let client: TiplineClientProtocol
    private let settings: SettingsModel
    private let names: DirectoryNames

    init(client: TiplineClientProtocol, settings: SettingsModel, names: DirectoryNames) {
        self.client = client
        self.settings = settings
        self.names = names
    }

    public func refresh() async {
        let text = settings.text
        guard let region = settings.region else {
            alerts = []
            notice = .app(.noRegion)
            return
        }
        self.region = region
        loading = true
        defer { loading = false }
        do {
            alerts = try await client.alerts(region: region, language: text.language).map {
                AlertRow(alertId: $0.alertId, unitName: names.unit($0.unitId), severity: $0.severity, severityLabel: $0.severityLabel,
                         title: $0.title, body: $0.body, expires: text.dateTime($0.expiresAt))
            }
            notice = nil
        } catch {
            notice = text.notice(error)
        }
    }

    func clear() {
        alerts = []
        notice = nil
    }
}

public struct HotlineRow: Identifiable, Equatable {
    public let id: String
    public let name: String
    public let display: String
    public let dialUri: String
    public let openNow: Bool
    /// The core's sentence: "Open now, until 22:00".
    public let status: String
}

@MainActor
public final class HotlinesModel: ObservableObject {
    @Published public private(set) var hotlines: [HotlineRow] = []
    @Published public private(set) var notice: Notice?
    private let client: TiplineClientProtocol
    private let settings: SettingsModel

    init(client: TiplineClientProtocol, settings: SettingsModel) {
        self.client = client
        self.settings = settings
    }

    /// The hotlines as of `now`; the screen calls this again every minute.
    public func refresh(now: Date = Date()) {
        let text = settings.text
        guard let region = settings.region else {
            hotlines = []
            notice = .app(.noRegion)
            return
        }
        do {
            hotlines = try client.hotlines(region: region, language: text.language, now: now).map {
                HotlineRow(id: $0.id, name: $0.name, display: $0.display, dialUri: $0.dialUri, openNow: $0.openNow, status: $0.status)
            }
            notice = client.directory() == nil ? .app(.noDirectory) : nil
        } catch {
            notice = text.notice(error)
        }
    }
}
