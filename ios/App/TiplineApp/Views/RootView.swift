// The app: the tabs, each with the quick-exit toolbar, drawn in the chosen language with the
// layout direction the core gives it (Arabic right to left).
import SwiftUI
import TiplineAppModel
import TiplineFFI

struct RootView: View {
    let model: AppModel
    @ObservedObject var settings: SettingsModel
    @ObservedObject var codename: CodenameModel
    let onQuickExit: () -> Void
    @State private var showingSettings = false

    init(model: AppModel, settings: SettingsModel, onQuickExit: @escaping () -> Void) {
        self.model = model
        self.settings = settings
        codename = model.codename
        self.onQuickExit = onQuickExit
    }

    var body: some View {
        let t = Strings(code: settings.languageCode)
        let toolbar = TiplineToolbar(onQuickExit: onQuickExit, onSettings: { showingSettings = true })
        TabView {
            NavigationStack { ReportView(model: model, report: model.report, settings: settings).modifier(toolbar) }
                .tabItem { Label(t("tab_report"), systemImage: "square.and.pencil") }
            NavigationStack { OutboxView(outbox: model.outbox, delivery: model.delivery).modifier(toolbar) }
                .tabItem { Label(t("tab_outbox"), systemImage: "paperplane") }
            NavigationStack { CasesView(cases: model.cases).modifier(toolbar) }
                .tabItem { Label(t("tab_cases"), systemImage: "envelope") }
            NavigationStack { AlertsView(alerts: model.alerts).modifier(toolbar) }
                .tabItem { Label(t("tab_alerts"), systemImage: "bell") }
            NavigationStack { HotlinesView(hotlines: model.hotlines).modifier(toolbar) }
                .tabItem { Label(t("tab_hotlines"), systemImage: "phone") }
        }
        .sheet(isPresented: $showingSettings) {
            NavigationStack { SettingsView(model: model, settings: settings) }
                .environment(\.strings, t)
                .environment(\.layoutDirection, direction)
        }
        // The codename, once, right after filing; it cannot be swiped away.
        .fullScreenCover(isPresented: Binding(get: { codename.state != nil }, set: { _ in })) {
            CodenameView(codename: codename)
                .environment(\.strings, t)
                .environment(\.layoutDirection, direction)
        }
        // Right after filing, the reporter has a case to hear about: iOS asks once for notifications.
        .onChange(of: codename.state != nil) { shown in
            if shown, settings.updateNotifications { UpdateNotifier.shared.requestAuthorization() }
        }
        .environment(\.strings, t)
        .environment(\.locale, Locale(identifier: settings.languageCode))
        .environment(\.layoutDirection, direction)
    }

    private var direction: LayoutDirection {
        settings.direction == .rightToLeft ? .rightToLeft : .leftToRight
    }
}
