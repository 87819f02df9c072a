// The Tipline iOS app: opens the one client (Keychain key store), registers the background tasks
// and the network monitor that deliver the outbox and check the cases for news, and draws the
// screens in the chosen language and layout direction. Quick exit forgets what was on screen,
// removes the update notification and leaves the app at once.
import SwiftUI
import TiplineAppModel
import TiplineFFI

@main
struct TiplineApp: App {
    @StateObject private var holder = ModelHolder()
    @Environment(\.scenePhase) private var scenePhase

    init() {
        // BGTaskScheduler wants its handlers before launch finishes.
        DeliveryHooks.registerBackgroundTask { await ModelHolder.shared?.model }
        UpdateNotifier.shared.install()
        PickedFile.clearFolder()
    }

    var body: some Scene {
        WindowGroup {
            Group {
                if let model = holder.model {
                    RootView(model: model, settings: model.settings, onQuickExit: holder.quickExit)
                } else if let failure = holder.failure {
                    Text(failure).padding()
                } else {
                    ProgressView()
                }
            }
            // The app switcher's snapshot shows a blank screen, never a report.
            .overlay {
                if scenePhase != .active { Color(.systemBackground).ignoresSafeArea() }
            }
            .task { await holder.open() }
        }
        .onChange(of: scenePhase) { phase in
            switch phase {
            case .active:
                holder.model?.delivery.onForeground()
                // The reporter is looking at the app: the notification has done its work.
                UpdateNotifier.shared.remove()
                holder.model?.updates.dismissed()
            case .background:
                DeliveryHooks.scheduleBackgroundTask()
                DeliveryHooks.scheduleRefreshTask()
            default:
                break
            }
        }
    }
}

/// Opens the model once for the process and keeps it.
@MainActor
final class ModelHolder: ObservableObject {
    static weak var shared: ModelHolder?
    @Published private(set) var model: AppModel?
    @Published private(set) var failure: String?
    private let hooks = DeliveryHooks()

    init() {
        ModelHolder.shared = self
    }

    func open() async {
        guard model == nil else { return }
        do {
            let support = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            let storage = support.appendingPathComponent("tipline", isDirectory: true)
            let info = Bundle.main.infoDictionary ?? [:]
            let config = ClientConfig(
                storageDir: storage.path,
                baseUrl: info["TiplineServerURL"] as? String ?? "",
                authorityKey: info["TiplineAuthorityKey"] as? String ?? "",
                tlsPin: nil,
                timeout: nil
            )
            let opened = try await AppModel.open(
                config: config,
                keyStore: KeychainKeyStore(),
                preferences: UserDefaultsPreferences(),
                deviceLanguages: Locale.preferredLanguages,
                deviceRegion: Locale.current.regionCode
            )
            model = opened
            hooks.startMonitoring(opened.delivery)
            await opened.start()
            // The check at the app's start; iOS asks once for the notification permission, when
            // the reporter has a case to hear about and has not turned the notification off.
            if opened.settings.updateNotifications, !opened.cases.cases.isEmpty {
                UpdateNotifier.shared.requestAuthorization()
            }
            await opened.updates.checkAtStart()
        } catch {
            failure = String(describing: error)
        }
    }

    /// Quick exit: nothing left on screen, then away to an ordinary page at once.
    func quickExit() {
        model?.quickExit()
        UpdateNotifier.shared.remove()
        let page = Bundle.main.object(forInfoDictionaryKey: "TiplineQuickExitURL") as? String
        if let url = URL(string: page ?? "https://www.wikipedia.org") {
            UIApplication.shared.open(url)
        }
    }
}
