// Writing a report: category, what happened, when, where with a precision, people, optional
// contact, photos, videos and audio. "Send" seals it into the outbox, even offline.
import PhotosUI
import SwiftUI
import TiplineAppModel
import TiplineFFI
import UniformTypeIdentifiers

struct ReportView: View {
    @ObservedObject var model: AppModel
    @ObservedObject var report: ReportModel
    @ObservedObject var settings: SettingsModel
    @Environment(\.strings) private var t
    @State private var photoItems: [PhotosPickerItem] = []
    @State private var importingAudio = false
    @State private var locationUnavailable = false
    @State private var locator: OneLocation?

    var body: some View {
        Form {
            Section {
                NoticeView(notice: model.directoryNotice)
                NoticeView(notice: report.notice)
                if settings.region == nil { NoticeView(notice: .app(.noRegion)) }
                FieldProblemView(problem: report.problems["unit"])
            }
            Section(t("report_category")) {
                ForEach(report.categories) { category in
                    ChoiceRow(selected: report.form.category == category.id, label: category.label) { report.form.category = category.id }
                }
                FieldProblemView(problem: report.problems["category"])
            }
            Section(t("report_text")) {
                Text(t("report_text_hint")).font(.footnote).foregroundColor(.secondary)
                TextEditor(text: $report.form.text).frame(minHeight: 120)
                FieldProblemView(problem: report.problems["text"])
            }
            whenSection
            placeSection
            peopleSection
            contactSection
            attachmentsSection
            Section {
                Button(t(report.submitting ? "report_sealing" : "report_send")) {
                    Task { await report.submit() }
                }
                .disabled(report.submitting)
                Text(t("report_offline_note")).font(.footnote)
            }
        }
        .navigationTitle(t("tab_report"))
    }

    private var whenSection: some View {
        Section(t("report_when")) {
            ChoiceRow(selected: report.form.whenMode == .unknown, label: t("report_when_unknown")) { report.form.whenMode = .unknown }
            ChoiceRow(selected: report.form.whenMode == .exact, label: t("report_when_exact")) {
                report.form.whenMode = .exact
                if report.form.exactAt == nil { report.form.exactAt = Date() }
            }
            ChoiceRow(selected: report.form.whenMode == .between, label: t("report_when_between")) {
                report.form.whenMode = .between
                if report.form.earliest == nil { report.form.earliest = Date().addingTimeInterval(-86_400) }
                if report.form.latest == nil { report.form.latest = Date() }
            }
            switch report.form.whenMode {
            case .unknown:
                EmptyView()
            case .exact:
                DatePicker("", selection: date(\.exactAt), in: ...Date(), displayedComponents: [.date, .hourAndMinute])
            case .between:
                DatePicker(t("report_when_from"), selection: date(\.earliest), in: ...Date(), displayedComponents: .date)
                DatePicker(t("report_when_to"), selection: date(\.latest), in: ...Date(), displayedComponents: .date)
            }
            FieldProblemView(problem: report.problems["when"])
        }
    }

    private var placeSection: some View {
        Section(t("report_where")) {
            ChoiceRow(selected: report.form.placeMode == .none, label: t("report_where_none")) { report.form.placeMode = .none }
            ChoiceRow(selected: report.form.placeMode == .position, label: t("report_where_position")) { locate() }
            ChoiceRow(selected: report.form.placeMode == .described, label: t("report_where_described")) { report.form.placeMode = .described }
            if locationUnavailable { Text(t("report_where_unavailable")).font(.footnote) }
            switch report.form.placeMode {
            case .none:
                EmptyView()
            case .position:
                if report.form.latitude != nil {
                    Label(t("report_where_position_taken"), systemImage: "location")
                }
                Text(t("report_precision")).font(.subheadline)
                ForEach(report.precisions) { option in
                    ChoiceRow(selected: report.form.precision == option.precision, label: option.label) { report.form.precision = option.precision }
                }
            case .described:
                TextField(t("report_where_described"), text: $report.form.placeText)
            }
            FieldProblemView(problem: report.problems["place"])
        }
    }

    private var peopleSection: some View {
        Section(t("report_people")) {
            ForEach($report.form.people) { $person in
                let index = report.form.people.firstIndex(where: { $0.id == person.id }) ?? 0
                VStack(alignment: .leading) {
                    TextField(t("report_person_description"), text: $person.details)
                    FieldProblemView(problem: report.problems["people[\(index)].description"])
                    TextField(t("report_person_name"), text: $person.name)
                    FieldProblemView(problem: report.problems["people[\(index)].name"])
                    Button(t("action_remove"), role: .destructive) {
                        report.form.people.removeAll { $0.id == person.id }
                    }
                }
            }
            FieldProblemView(problem: report.problems["people"])
            Button(t("report_add_person")) { report.form.people.append(PersonInput()) }
        }
    }

    private var contactSection: some View {
        Section(t("report_contact")) {
            Toggle(t("report_contact_wanted"), isOn: $report.form.wantsContact)
            if report.form.wantsContact {
                TextField(t("report_contact_name"), text: $report.form.contactName)
                FieldProblemView(problem: report.problems["contact.name"])
                TextField(t("report_contact_phone"), text: $report.form.contactPhone).keyboardType(.phonePad)
                FieldProblemView(problem: report.problems["contact.phone"])
                TextField(t("report_contact_email"), text: $report.form.contactEmail).keyboardType(.emailAddress)
                FieldProblemView(problem: report.problems["contact.email"])
            }
        }
    }

    private var attachmentsSection: some View {
        Section(t("report_attachments")) {
            ForEach(Array(report.form.attachments.enumerated()), id: \.element.id) { index, file in
                HStack {
                    Text(t(kindKey(file.kind)) + ": " + file.name)
                    Spacer()
                    Text(ByteCountFormatter.string(fromByteCount: file.size, countStyle: .file)).font(.footnote)
                }
                FieldProblemView(problem: report.problems["attachments[\(index)]"])
            }
            .onDelete { report.form.attachments.remove(atOffsets: $0) }
            FieldProblemView(problem: report.problems["attachments"])
            PhotosPicker(t("report_add_photo_video"), selection: $photoItems, matching: .any(of: [.images, .videos]))
            Button(t("report_add_audio")) { importingAudio = true }
            Text(t("report_attachments_note")).font(.footnote)
        }
        .onChange(of: photoItems) { items in
            photoItems = []
            for item in items {
                Task {
                    guard let picked = try? await item.loadTransferable(type: PickedFile.self) else { return }
                    let type = item.supportedContentTypes.first
                    let name = "attachment." + (type?.preferredFilenameExtension ?? "bin")
                    report.attach(name: name, mediaType: type?.preferredMIMEType ?? "application/octet-stream",
                                  path: picked.url.path, size: picked.size)
                }
            }
        }
        .fileImporter(isPresented: $importingAudio, allowedContentTypes: [.audio]) { result in
            guard case .success(let url) = result else { return }
            let scoped = url.startAccessingSecurityScopedResource()
            defer { if scoped { url.stopAccessingSecurityScopedResource() } }
            guard let picked = try? PickedFile.copy(of: url) else { return }
            let type = UTType(filenameExtension: url.pathExtension)
            report.attach(name: url.lastPathComponent, mediaType: type?.preferredMIMEType ?? "audio/mpeg",
                          path: picked.url.path, size: picked.size)
        }
    }

    private func kindKey(_ kind: MediaKind) -> String {
        switch kind {
        case .photo: return "attachment_photo"
        case .video: return "attachment_video"
        case .audio: return "attachment_audio"
        case .other: return "attachment_file"
        }
    }

    /// A non-optional binding to one of the form's optional dates.
    private func date(_ path: WritableKeyPath<ReportForm, Date?>) -> Binding<Date> {
        Binding(get: { report.form[keyPath: path] ?? Date() }, set: { report.form[keyPath: path] = $0 })
    }

    private func locate() {
        let locator = OneLocation()
        self.locator = locator
        Task {
            if let location = await locator.request() {
                locationUnavailable = false
                report.form.latitude = location.coordinate.latitude
                report.form.longitude = location.coordinate.longitude
                report.form.placeMode = .position
            } else {
                locationUnavailable = true
            }
        }
    }
}
