// Every screen's model over one client for the app's lifetime: the Swift twin of
// android/viewmodel/.../AppModel.kt. The app opens it with its Keychain key store, draws the
// models, feeds it the network and lifecycle signals, and calls `quickExit()` before leaving.
import Foundation
import TiplineFFI

/// The relay choice as the settings screen shows it.
public struct RelayState: Equatable {
    /// The reporter lets calls go through a relay (the default).
    public let enabled: Bool
    /// Calls go through a relay now: one is known and the reporter lets them.
    public let active: Bool
}

@MainActor
public final class AppModel: ObservableObject {
    public let client: TiplineClientProtocol
    public let settings: SettingsModel
    public let delivery: DeliveryModel
    public let codename: CodenameModel
    public let report: ReportModel
    public let outbox: OutboxModel
    public let cases: CasesModel
    public let alerts: AlertsModel
    public let hotlines: HotlinesModel
    public let updates: UpdatesModel
    /// Why the directory could not be refreshed (the cached one stays in use).
    @Published public private(set) var directoryNotice: Notice?
    /// The relay choice in the settings: whether the reporter lets calls go through an Oblivious
    /// HTTP relay (on by default; the core keeps the choice), and whether they do now.
    @Published public private(set) var relay = RelayState(enabled: true, active: false)
    private let names: DirectoryNames

    public init(client: TiplineClientProtocol, settings: SettingsModel) {
        self.client = client
        self.settings = settings
        names = DirectoryNames(client: client, settings: settings)
        delivery = DeliveryModel(client: client, settings: settings)
        codename = CodenameModel(settings: settings)
        report = ReportModel(client: client, settings: settings, codename: codename, delivery: delivery)
        outbox = OutboxModel(client: client, settings: settings, delivery: delivery, names: names)
        cases = CasesModel(client: client, settings: settings, names: names)
        alerts = AlertsModel(client: client, settings: settings, names: names)
        hotlines = HotlinesModel(client: client, settings: settings)
        updates = UpdatesModel(client: client, settings: settings, cases: cases)
        let outbox = self.outbox
        client.setListener(listener: OutboxRelay { item in
            Task { @MainActor in outbox.onChange(item) }
        })
        if let directory = client.directory() { directoryChanged(directory) }
    }

    /// Opens the client in the app's storage with the platform's key store. Works offline.
    public static func open(config: ClientConfig, keyStore: KeyStore, preferences: Preferences,
                            deviceLanguages: [String], deviceRegion: String?) async throws -> AppModel {
        let client = try await TiplineClient.open(config: config, keyStore: keyStore)
        return AppModel(client: client, settings: SettingsModel(preferences: preferences, deviceLanguages: deviceLanguages, deviceRegion: deviceRegion))
    }

    public func start() async {
        await refreshDirectory()
        await refreshRelay()
        await outbox.refresh()
        await cases.refreshCases()
        hotlines.refresh()
        await delivery.flushNow()
    }

    public func refreshDirectory() async {
        let text = settings.text
        do {
            let directory = try await client.refreshDirectory()
            directoryNotice = nil
            directoryChanged(directory)
            // A directory may name a relay (or stop naming one).
            await refreshRelay()
        } catch ApiError.Crypto {
            directoryNotice = .text(text.text("directory-refused"))
        } catch {
            directoryNotice = client.directory() == nil ? .app(.noDirectory) : text.notice(error)
        }
    }

    /// Reads the relay choice, and whether calls go through a relay now, from the core.
    public func refreshRelay() async {
        // If the stored choice cannot be read, the core keeps its own default (on).
        guard let enabled = try? await client.useRelay() else { return }
        relay = RelayState(enabled: enabled, active: client.throughRelay())
    }

    /// The reporter's choice: through a relay when one is known (`true`), or straight to the
    /// intake, which then sees the phone's address (`false`). Takes effect for the next call.
    public func setUseRelay(_ enabled: Bool) async throws {
        try await client.setUseRelay(enabled: enabled)
        await refreshRelay()
    }

    private func directoryChanged(_ directory: DirectoryInfo) {
        settings.directoryChanged(directory)
        report.relabel()
        outbox.render()
    }

    public func selectLanguage(_ language: Language) async {
        settings.selectLanguage(language)
        report.relabel()
        codename.relabel()
        outbox.render()
        cases.render()
        hotlines.refresh()
        await cases.refreshCases()
        await alerts.refresh()
    }

    public func selectRegion(_ code: String) async {
        settings.selectRegion(code)
        hotlines.refresh()
        await alerts.refresh()
    }

    /// Forgets everything on screen; the sealed outbox and case book stay on the phone.
    public func quickExit() {
        report.clear()
        codename.kept()
        cases.clear()
        outbox.clear()
        alerts.clear()
        updates.dismissed()
    }
}
