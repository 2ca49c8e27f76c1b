package web_test

import (
	"net/url"
	"strings"
	"testing"

	"clientst0r/internal/testutil"
)

func TestVehiclePages(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme, bravo := e.Org("Acme Corp"), e.Org("Bravo")
		ed, ro, owner, driver := e.User("ed@acme.test", false), e.User("ro@acme.test", false), e.User("owner@acme.test", false), e.User("driver@acme.test", false)
		e.Member(acme.ID, ed.Email, "editor")
		e.Member(acme.ID, ro.Email, "readonly")
		e.Member(acme.ID, owner.Email, "owner")
		e.Member(acme.ID, driver.Email, "readonly")
		other := e.User("ed@bravo.test", false)
		e.Member(bravo.ID, other.Email, "editor")
		b := newBrowser(t, e)
		b.login(ed.Email, testutil.Password)

		// The form offers the organization's members for assigned_to; a bad VIN comes back as typed.
		if _, body := b.do("GET", "/vehicles/new", nil); !strings.Contains(body, "driver@acme.test") || !strings.Contains(body, `name="vin"`) {
			t.Fatal("new vehicle form")
		}
		form := url.Values{"organization": {itoa(acme.ID)}, "name": {"Service van"}, "vehicle_type": {"cargo_van"}, "status": {"active"},
			"make": {"Ford"}, "model": {"Transit"}, "year": {"2022"}, "vin": {"1M8GDM9A5KP042788"}, "license_plate": {"ACM-1"},
			"current_mileage": {"12000"}, "assigned_to": {itoa(driver.ID)}, "purchase_price": {"41000"}, "insurance_expires_at": {"2026-09-30"}}
		s, body := b.do("POST", "/vehicles/new", form)
		if s != 400 || !strings.Contains(body, "vin: The check digit") || !strings.Contains(body, `value="Service van"`) {
			t.Fatalf("bad VIN: %d", s)
		}
		if s, body = b.do("POST", "/vehicles/new", url.Values{"organization": {itoa(acme.ID)}, "name": {"x"}, "year": {"new"}}); s != 400 ||
			!strings.Contains(body, "year: enter a whole number") {
			t.Fatalf("bad year: %d", s)
		}
		form.Set("vin", "1m8gdm9axkp042788")
		s, body = b.do("POST", "/vehicles/new", form)
		page := b.last
		if s != 200 || !strings.HasPrefix(page, "/vehicles/") || !strings.Contains(body, "1M8GDM9AXKP042788") ||
			!strings.Contains(body, "driver@acme.test") || !strings.Contains(body, "41000.00") || !strings.Contains(body, "nothing scheduled") {
			t.Fatalf("create: %d at %s\n%s", s, page, body)
		}

		// Service and fuel history from the page's forms.
		s, body = b.do("POST", page+"/maintenance", url.Values{"maintenance_type": {"oil_change"}, "service_date": {"2026-02-01"},
			"mileage_at_service": {"12500"}, "performed_by": {"Quick Lube"}, "cost": {"79.5"}, "next_due_mileage": {"15500"}, "next_due_date": {"2026-08-01"}})
		if s != 200 || b.last != page || !strings.Contains(body, "Quick Lube") || !strings.Contains(body, "79.50") || !strings.Contains(body, "at 15500 mi") {
			t.Fatalf("add service: %d at %s\n%s", s, b.last, body)
		}
		b.do("POST", page+"/fuel", url.Values{"date": {"2026-02-10"}, "mileage": {"12600"}, "gallons": {"12"}, "total_cost": {"40"}, "station": {"Shell"}})
		_, body = b.do("POST", page+"/fuel", url.Values{"date": {"2026-02-20"}, "mileage": {"12900"}, "gallons": {"10"}})
		if !strings.Contains(body, "30.0") || !strings.Contains(body, "Shell") || !strings.Contains(body, "12900 mi") {
			t.Fatalf("fuel history:\n%s", body)
		}
		// Refused entries: the page again, with the form as typed and what was wrong.
		if s, body = b.do("POST", page+"/fuel", url.Values{"mileage": {"-3"}, "gallons": {"5"}, "station": {"Exxon"}}); s != 400 ||
			!strings.Contains(body, "mileage: Ensure this value is between 0") || !strings.Contains(body, `value="Exxon"`) {
			t.Fatalf("negative mileage: %d", s)
		}
		if s, body = b.do("POST", page+"/maintenance", url.Values{"maintenance_type": {"repair"}, "mileage_at_service": {"lots"}}); s != 400 ||
			!strings.Contains(body, "mileage at service: enter a whole number") {
			t.Fatalf("bad service mileage: %d", s)
		}
		if s, _ = b.do("POST", page+"/wash", url.Values{}); s != 404 {
			t.Fatalf("unknown log: %d", s)
		}

		// The list: filters and the overdue badge once the odometer passes the due mileage.
		if _, body = b.do("GET", "/vehicles?service_overdue=true", nil); strings.Contains(body, "Service van") {
			t.Fatal("overdue too early")
		}
		b.do("POST", page+"/fuel", url.Values{"mileage": {"15600"}, "gallons": {"30"}})
		if _, body = b.do("GET", "/vehicles?service_overdue=true&vehicle_type=cargo_van", nil); !strings.Contains(body, "Service van") ||
			!strings.Contains(body, `badge off">overdue`) {
			t.Fatalf("overdue list:\n%s", body)
		}
		if _, body = b.do("GET", "/vehicles?status=retired", nil); strings.Contains(body, "Service van") {
			t.Fatal("status filter")
		}
		if _, body = b.do("GET", "/vehicles?search=transit", nil); !strings.Contains(body, "Service van") {
			t.Fatal("search")
		}

		// Edit: the form shows what is stored; a duplicate of nothing, a change of name.
		if _, body = b.do("GET", page+"/edit", nil); !strings.Contains(body, `value="1M8GDM9AXKP042788"`) || !strings.Contains(body, `value="15600"`) {
			t.Fatalf("edit form:\n%s", body)
		}
		edit := url.Values{"name": {"Van 1"}, "vehicle_type": {"cargo_van"}, "status": {"maintenance"}, "vin": {"1M8GDM9AXKP042788"},
			"current_mileage": {"15600"}, "latitude": {"40.7"}}
		if s, body = b.do("POST", page+"/edit", edit); s != 400 || !strings.Contains(body, "latitude and longitude") {
			t.Fatalf("half a position: %d", s)
		}
		edit.Set("longitude", "-74")
		if s, body = b.do("POST", page+"/edit", edit); s != 200 || b.last != page || !strings.Contains(body, "Van 1") || !strings.Contains(body, "40.7, -74") {
			t.Fatalf("edit: %d\n%s", s, body)
		}

		// Readonly: sees the vehicle, gets no forms, and cannot post entries.
		rb := newBrowser(t, e)
		rb.login(ro.Email, testutil.Password)
		if _, body = rb.do("GET", page, nil); !strings.Contains(body, "Van 1") || strings.Contains(body, "Add fill-up") || strings.Contains(body, ">Edit<") {
			t.Fatal("readonly page")
		}
		if s, _ = rb.do("POST", page+"/fuel", url.Values{"mileage": {"20000"}, "gallons": {"5"}}); s != 403 {
			t.Fatalf("readonly fill-up: %d", s)
		}
		if s, _ = rb.do("GET", page+"/edit", nil); s != 403 {
			t.Fatalf("readonly edit form: %d", s)
		}
		// Another organization: not found.
		ob := newBrowser(t, e)
		ob.login(other.Email, testutil.Password)
		for _, p := range []string{page, page + "/edit"} {
			if s, _ = ob.do("GET", p, nil); s != 404 {
				t.Errorf("Bravo GET %s: %d", p, s)
			}
		}
		if s, _ = ob.do("POST", page+"/maintenance", url.Values{"maintenance_type": {"repair"}}); s != 404 {
			t.Errorf("Bravo adds a service: %d", s)
		}
		if _, body = ob.do("GET", "/vehicles", nil); strings.Contains(body, "Van 1") {
			t.Error("Bravo lists Acme's vehicle")
		}
		// Delete: the editor may not, the owner may.
		if s, _ = b.do("POST", page+"/delete", url.Values{}); s != 403 {
			t.Fatalf("editor delete: %d", s)
		}
		wb := newBrowser(t, e)
		wb.login(owner.Email, testutil.Password)
		if s, _ = wb.do("POST", page+"/delete", url.Values{}); s != 200 || wb.last != "/vehicles" {
			t.Fatalf("owner delete: %d at %s", s, wb.last)
		}
	})
}
