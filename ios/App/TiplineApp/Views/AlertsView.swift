// The alerts for the reporter's region, each verified by the core against the directory.
import SwiftUI
import TiplineAppModel
import TiplineFFI

struct AlertsView: View {
    @ObservedObject var alerts: AlertsModel
    @Environment(\.strings) private var t

    var body: some View {
        List {
            NoticeView(notice: alerts.notice)
            if let region = alerts.region { Text(t.format("alerts_region", region)).font(.caption) }
            if alerts.alerts.isEmpty && alerts.notice == nil && !alerts.loading { Text(t("alerts_empty")) }
            ForEach(alerts.alerts) { alert in
                VStack(alignment: .leading, spacing: 4) {
                    Text(alert.severityLabel).font(.caption).bold().foregroundColor(color(alert.severity))
                    Text(alert.title).font(.headline)
                    Text(alert.body)
                    Text(alert.unitName).font(.caption)
                    Text(t.format("alerts_until", alert.expires)).font(.caption2)
                }
            }
        }
        .navigationTitle(t("tab_alerts"))
        .task { await alerts.refresh() }
        .refreshable { await alerts.refresh() }
    }

    private func color(_ severity: Severity) -> Color {
        switch severity {
        case .danger: return .red
        case .warning: return .orange
        case .info: return .blue
        }
    }
}
