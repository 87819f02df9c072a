# نصوص نواة Tipline: العربية.

## صندوق الصادر
outbox-queued = في انتظار الإرسال
outbox-sending = جارٍ الإرسال… { $percent }٪
outbox-delivered = تم التسليم { $date }
outbox-retrying = لم يُرسل بعد: { $reason }. ستتم المحاولة مجددًا في الساعة { $time }.
outbox-failed = لم يُرسل: { $reason }.
outbox-receipt-unverified = استلم الخادم البلاغ، لكن تعذّر التحقق من إيصاله. يُحفظ البلاغ هنا ولن يُرسل مرة أخرى.
reason-offline = لا يوجد اتصال
reason-server = لم يستجب الخادم
reason-rejected = رفض الخادم البلاغ
reason-busy = الخادم مشغول
reason-local = تعذّر على هذا الهاتف حفظه أو قراءته الآن
reason-receipt = تعذّر التحقق من إيصال الخادم

## خطوط المساعدة
hotline-open-until = مفتوح الآن حتى الساعة { $time }
hotline-opens-at = مغلق، يفتح { $day } في الساعة { $time }
hotline-hours-unknown = ساعات العمل غير منشورة
hotline-zone-unknown = حدِّث التطبيق لمعرفة ساعات العمل
day-today = اليوم
day-tomorrow = غدًا
day-monday = يوم الاثنين
day-tuesday = يوم الثلاثاء
day-wednesday = يوم الأربعاء
day-thursday = يوم الخميس
day-friday = يوم الجمعة
day-saturday = يوم السبت
day-sunday = يوم الأحد

## كتابة بلاغ
field-required = يُرجى ملء هذا الحقل
field-too-long = النص طويل جدًا: { $max } حرف كحد أقصى
field-invalid = هذه القيمة غير صالحة
category-unknown = اختر إحدى الفئات
attachment-too-large = الملف كبير جدًا: { $max } ميغابايت كحد أقصى
attachments-too-many = { $max } ملفات كحد أقصى
time-range-reversed = وقت البداية بعد وقت النهاية

## دقة الموقع
precision-street = الشارع (حوالي 100 م)
precision-neighbourhood = الحي (حوالي 1 كم)
precision-town = المدينة (حوالي 10 كم)
precision-region = المنطقة (حوالي 50 كم)

## التنبيهات
severity-info = معلومات
severity-warning = تحذير
severity-danger = خطر

## الاسم الرمزي
codename-keep = اكتب هذه الكلمات واحفظها في مكان آمن. بها يمكنك قراءة الردود على بلاغك من أي هاتف. كل من يملكها يستطيع قراءة قضيتك.
codename-invalid = هذه الكلمات ليست اسمًا رمزيًا صالحًا

## المرفقات
metadata-removed = تمت إزالة الموقع وبيانات الكاميرا
metadata-kept = لا يمكن تنظيف هذا النوع من الملفات: قد يظل يحتوي على بيانات الموقع أو الجهاز

## الدليل
directory-refused = تعذّر التحقق من قائمة وحدات الشرطة
