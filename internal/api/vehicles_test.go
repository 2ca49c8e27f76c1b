package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// VINs with a correct check digit (position 9).
const (
	vinVan    = "1M8GDM9AXKP042788"
	vinPickup = "2T1BURHE0JC074253"
	vinSedan  = "1HGCM82633A004352"
	vinSpare  = "JH4KA7561PC008269"
)

// fleet is two organizations with vehicles, and callers of every role.
type fleet struct {
	e                            *testutil.Env
	acme, bravo                  store.Organization
	owner, ed, ro, other         string // keys: Acme owner, editor, readonly; Bravo editor
	driver, outsider             store.User
	van, pickup, sedan, bravoVan int64
}

func newFleet(t *testing.T, e *testutil.Env) *fleet {
	f := &fleet{e: e, acme: e.Org("Acme"), bravo: e.Org("Bravo")}
	key := func(email string, org int64, role string) string {
		u := e.User(email, false)
		e.Member(org, email, role)
		return e.Key(u, store.NewKey{})
	}
	f.owner, f.ed, f.ro = key("owner@acme.test", f.acme.ID, "owner"), key("ed@acme.test", f.acme.ID, "editor"), key("ro@acme.test", f.acme.ID, "readonly")
	f.other = key("ed@bravo.test", f.bravo.ID, "editor")
	f.driver, f.outsider = e.User("driver@acme.test", false), e.User("driver@bravo.test", false)
	e.Member(f.acme.ID, f.driver.Email, "readonly")
	e.Member(f.bravo.ID, f.outsider.Email, "readonly")
	f.van = f.create(t, f.owner, map[string]any{"name": "Van 1", "vehicle_type": "cargo_van", "make": "Ford", "model": "Transit 250",
		"year": 2021, "color": "white", "vin": strings.ToLower(vinVan), "license_plate": "ACM-001", "current_mileage": 42000,
		"assigned_to": f.driver.ID, "insurance_provider": "Progressive", "insurance_policy_number": "PC-77",
		"insurance_expires_at": "2026-06-30", "registration_expires_at": "2026-12-31", "purchase_date": "2023-01-15",
		"purchase_price": 38500.5, "notes": "Ladder rack"})
	f.pickup = f.create(t, f.owner, map[string]any{"name": "Pickup 2", "vehicle_type": "pickup", "make": "Toyota", "model": "Tacoma",
		"vin": vinPickup, "license_plate": "ACM-002", "status": "maintenance", "current_mileage": 18000, "purchase_date": "2024-05-01",
		"insurance_expires_at": "2026-04-01"})
	f.sedan = f.create(t, f.owner, map[string]any{"name": "Sedan 3", "vehicle_type": "sedan", "make": "Honda", "model": "Accord",
		"year": 2003, "vin": vinSedan, "status": "retired", "current_mileage": 210000})
	f.bravoVan = f.create(t, f.other, map[string]any{"name": "Bravo van", "vehicle_type": "van", "make": "Ford", "vin": vinVan})
	return f
}

// create posts a vehicle and returns its id.
func (f *fleet) create(t *testing.T, key string, body map[string]any) int64 {
	t.Helper()
	r := f.e.Do("POST", "/api/vehicles/", key, body)
	if r.Status != 201 {
		t.Fatalf("create %v: %d %s", body["name"], r.Status, r.Body)
	}
	f.e.Clock.Advance(time.Minute)
	return int64(r.Map()["id"].(float64))
}

// add posts an entry to a vehicle's log ("maintenance" or "fuel") and returns it.
func (f *fleet) add(t *testing.T, vehicle int64, log string, body map[string]any) map[string]any {
	t.Helper()
	r := f.e.Do("POST", fmt.Sprintf("/api/v1/vehicles/%d/%s/", vehicle, log), f.ed, body)
	if r.Status != 201 {
		t.Fatalf("add %s %v: %d %s", log, body, r.Status, r.Body)
	}
	return r.Map()
}

func (f *fleet) get(t *testing.T, id int64) map[string]any {
	t.Helper()
	r := f.e.Do("GET", fmt.Sprintf("/api/vehicles/%d/", id), f.owner, nil)
	if r.Status != 200 {
		t.Fatalf("get vehicle %d: %d %s", id, r.Status, r.Body)
	}
	return r.Map()
}

// expect reports the fields of got that differ from want.
func expect(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v", what, k, got[k], v)
		}
	}
}

// badBody is a body a write must refuse with 400, naming field.
type badBody struct {
	body  map[string]any
	field string
}

// refused sends each body, merged over base, and expects a 400 that names its field.
func refused(t *testing.T, e *testutil.Env, method, path, key string, base map[string]any, cases []badBody) {
	t.Helper()
	for _, c := range cases {
		body := map[string]any{}
		for k, v := range base {
			body[k] = v
		}
		for k, v := range c.body {
			body[k] = v
		}
		if r := e.Do(method, path, key, body); r.Status != 400 || r.Map()[c.field] == nil {
			t.Errorf("%s %s %v: %d %s", method, path, c.body, r.Status, r.Body)
		}
	}
}

// column lists one field of each result of a list request, as text.
func column(t *testing.T, e *testutil.Env, key, path, field string) string {
	t.Helper()
	r := e.Do("GET", path, key, nil)
	if r.Status != 200 {
		t.Fatalf("%s: %d %s", path, r.Status, r.Body)
	}
	var out []any
	for _, m := range r.Map()["results"].([]any) {
		out = append(out, m.(map[string]any)[field])
	}
	return fmt.Sprint(out)
}

func TestVehicleFieldsAndValidation(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		expect(t, "van", f.get(t, f.van), map[string]any{"name": "Van 1", "vehicle_type": "cargo_van", "vin": vinVan, "year": 2021,
			"status": "active", "current_mileage": 42000, "assigned_to": f.driver.ID, "assigned_to_email": "driver@acme.test",
			"organization": f.acme.ID, "organization_name": "Acme", "insurance_expires_at": "2026-06-30", "purchase_price": 38500.5,
			"registration_expires_at": "2026-12-31", "next_service_due_date": nil, "next_service_due_mileage": nil,
			"service_overdue": false, "latitude": nil, "location_updated_at": nil,
			"url": fmt.Sprintf("%s/api/vehicles/%d/", e.Server.URL, f.van)})
		expect(t, "pickup defaults", f.get(t, f.pickup), map[string]any{"year": nil, "assigned_to": nil, "assigned_to_email": nil, "color": ""})

		refused(t, e, "POST", "/api/vehicles/", f.owner, map[string]any{"name": "x", "organization": f.acme.ID}, []badBody{
			{map[string]any{"vehicle_type": "boat"}, "vehicle_type"},
			{map[string]any{"status": "sold"}, "status"},
			{map[string]any{"vin": vinSpare[:16]}, "vin"},              // too short
			{map[string]any{"vin": vinSpare + "1"}, "vin"},             // too long
			{map[string]any{"vin": "1M8GDM9AXKP04278I"}, "vin"},        // I
			{map[string]any{"vin": "1M8GDM9AXKP04278O"}, "vin"},        // O
			{map[string]any{"vin": "QM8GDM9AXKP042788"}, "vin"},        // Q
			{map[string]any{"vin": "1M8GDM9A5KP042788"}, "vin"},        // check digit 5, should be X
			{map[string]any{"vin": "WP0ZZZ99ZTS392124"}, "vin"},        // no check digit at all
			{map[string]any{"vin": "1M8GDM9AXKP04278-"}, "vin"},        // not a letter or digit
			{map[string]any{"vin": "1M8GDM9AXKP04278é"}, "vin"},        // nor this
			{map[string]any{"vin": 12345678901234567}, "vin"},          // a number
			{map[string]any{"current_mileage": -1}, "current_mileage"}, // negative
			{map[string]any{"current_mileage": 1.5}, "current_mileage"},
			{map[string]any{"current_mileage": "lots"}, "current_mileage"},
			{map[string]any{"current_mileage": nil}, "current_mileage"},
			{map[string]any{"year": 1800}, "year"},
			{map[string]any{"purchase_price": -5}, "purchase_price"},
			{map[string]any{"purchase_date": "2024-02-30"}, "purchase_date"},
			{map[string]any{"insurance_expires_at": "soon"}, "insurance_expires_at"},
			{map[string]any{"location_updated_at": "yesterday"}, "location_updated_at"},
			{map[string]any{"latitude": 91, "longitude": 0}, "latitude"},
			{map[string]any{"latitude": 40.7}, "non_field_errors"},
			{map[string]any{"assigned_to": f.outsider.ID}, "assigned_to"}, // a member of Bravo only
			{map[string]any{"assigned_to": 987654}, "assigned_to"},
			{map[string]any{"assigned_to": "driver"}, "assigned_to"},
			{map[string]any{"name": " "}, "name"},
			{map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{map[string]any{"license_plate": strings.Repeat("p", 201)}, "license_plate"},
			{map[string]any{"service_schedule": "monthly"}, "service_schedule"},
		})
		if r := e.Do("POST", "/api/vehicles/", f.owner, map[string]any{"name": "x", "vin": "1M8GDM9A5KP042788"}); !strings.Contains(string(r.Body), `should be \"X\"`) {
			t.Errorf("check digit message: %s", r.Body)
		}

		// A VIN is unique within an organization (Bravo's van shares the van's VIN); blank VINs are not.
		if r := e.Do("POST", "/api/vehicles/", f.owner, map[string]any{"name": "Twin", "vin": " " + vinVan + " "}); r.Status != 400 ||
			string(r.Body) != `{"vin":["A vehicle with this VIN already exists in this organization."]}` {
			t.Errorf("duplicate VIN: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.pickup), f.owner, map[string]any{"vin": vinVan}); r.Status != 400 || r.Map()["vin"] == nil {
			t.Errorf("duplicate VIN by PATCH: %d %s", r.Status, r.Body)
		}
		for range 2 {
			if r := e.Do("POST", "/api/vehicles/", f.owner, map[string]any{"name": "No VIN", "vin": ""}); r.Status != 201 {
				t.Errorf("blank VIN: %d %s", r.Status, r.Body)
			}
		}

		// Read-only fields in a body are ignored; the organization is inferred for a one-organization caller.
		r := e.Do("POST", "/api/v1/vehicles/", f.owner, map[string]any{"name": "Spare", "vin": vinSpare, "id": 5,
			"service_overdue": true, "next_service_due_date": "2020-01-01", "next_service_due_mileage": 1, "assigned_to_email": "x@y",
			"url": "http://x/", "organization_name": "Evil"})
		m := r.Map()
		if r.Status != 201 || m["id"] == 5.0 || m["service_overdue"] != false || m["next_service_due_date"] != nil ||
			m["organization"] != float64(f.acme.ID) || m["organization_name"] != "Acme" ||
			r.Header.Get("Location") != fmt.Sprintf("%s/api/v1/vehicles/%v/", e.Server.URL, m["id"]) {
			t.Errorf("read-only fields: %d %s (Location %s)", r.Status, r.Body, r.Header.Get("Location"))
		}
		su := e.Key(e.User("root@x.test", true), store.NewKey{})
		if r := e.Do("POST", "/api/vehicles/", su, map[string]any{"name": "x"}); r.Status != 400 || string(r.Body) != `{"organization":["This field is required."]}` {
			t.Errorf("no organization: %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/vehicles/", f.owner, map[string]any{"name": "x", "organization": f.bravo.ID}); r.Status != 400 || r.Map()["organization"] == nil {
			t.Errorf("foreign organization: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.van), su, map[string]any{"organization": f.bravo.ID}); r.Status != 400 {
			t.Errorf("moving a vehicle: %d %s", r.Status, r.Body)
		}
	})
}

func TestVehiclePutPatchDeleteAndAudit(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		path := fmt.Sprintf("/api/vehicles/%d/", f.van)
		before := f.get(t, f.van)

		// PATCH changes only what is sent. Moving the vehicle stamps location_updated_at unless the
		// write says when the position was taken.
		r := e.Do("PATCH", path, f.ed, map[string]any{"color": "silver", "latitude": 40.7128, "longitude": -74.006})
		m := r.Map()
		if r.Status != 200 || m["color"] != "silver" || m["vin"] != vinVan || m["location_updated_at"] != e.Clock.Now().Format(time.RFC3339) ||
			m["updated_at"] == before["updated_at"] {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		fix := "2026-03-01T22:15:00Z"
		if m := e.Do("PATCH", path, f.ed, map[string]any{"latitude": 40.75, "longitude": -73.99, "location_updated_at": fix}).Map(); m["location_updated_at"] != fix {
			t.Errorf("a given fix time is kept: %v", m["location_updated_at"])
		}
		if m := e.Do("PATCH", path, f.ed, map[string]any{"latitude": nil, "longitude": nil}).Map(); m["location_updated_at"] != nil {
			t.Errorf("clearing the position clears its time: %v", m["location_updated_at"])
		}
		// The odometer may be corrected downwards by a direct edit; never below 0.
		if m := e.Do("PATCH", path, f.ed, map[string]any{"current_mileage": 41990}).Map(); m["current_mileage"] != 41990.0 {
			t.Errorf("correction: %v", m["current_mileage"])
		}

		// A client can PUT back what it read: nothing changes, no audit row.
		count := func(where string, args ...any) int {
			var n int
			if err := e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE `+where, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		got := f.get(t, f.van)
		audits := count(`object_type = 'vehicle' AND object_id = $1`, f.van)
		e.Clock.Advance(time.Minute)
		if r := e.Do("PUT", path, f.ed, got); r.Status != 200 || r.Map()["updated_at"] != got["updated_at"] {
			t.Fatalf("put back: %d %s", r.Status, r.Body)
		}
		if n := count(`object_type = 'vehicle' AND object_id = $1`, f.van); n != audits {
			t.Fatalf("an update that changes nothing wrote %d audit rows", n-audits)
		}
		// PUT replaces: what is left out returns to its default. The assignment to a member is kept
		// when repeated, without being checked again.
		r = e.Do("PUT", path, f.ed, map[string]any{"name": "Van 1", "assigned_to": f.driver.ID})
		expect(t, "put", r.Map(), map[string]any{"vin": "", "vehicle_type": "other", "status": "active", "current_mileage": 0, "year": nil,
			"insurance_expires_at": nil, "purchase_price": nil, "notes": "", "organization": f.acme.ID, "assigned_to": f.driver.ID,
			"assigned_to_email": "driver@acme.test"})
		if r := e.Do("PUT", path, f.ed, map[string]any{"notes": "no name"}); r.Status != 400 || string(r.Body) != `{"name":["This field is required."]}` {
			t.Fatalf("put without name: %d %s", r.Status, r.Body)
		}
		var changes string
		e.DB.R.QueryRow(`SELECT changes FROM audit_log WHERE object_type = 'vehicle' AND object_id = $1 AND action = 'update' ORDER BY id DESC LIMIT 1`,
			f.van).Scan(&changes)
		for _, field := range []string{"vin", "vehicle_type", "current_mileage", "insurance_expires_at", "purchase_price"} {
			if !strings.Contains(changes, `"`+field+`"`) {
				t.Errorf("audit changes lack %s: %s", field, changes)
			}
		}

		// DELETE takes the logs with the vehicle.
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "oil_change", "mileage_at_service": 100})
		f.add(t, f.van, "fuel", map[string]any{"mileage": 150, "gallons": 10})
		if r := e.Do("DELETE", path, f.owner, nil); r.Status != 204 || len(r.Body) != 0 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", path, f.owner, nil); r.Status != 404 {
			t.Fatalf("deleted vehicle: %d", r.Status)
		}
		var left int
		e.DB.R.QueryRow(`SELECT (SELECT count(*) FROM vehicle_maintenance WHERE vehicle_id = $1) + (SELECT count(*) FROM vehicle_fuel WHERE vehicle_id = $1)`,
			f.van).Scan(&left)
		if left != 0 || count(`object_type = 'vehicle' AND object_id = $1 AND action = 'delete'`, f.van) != 1 ||
			count(`object_type = 'vehicle' AND object_id = $1 AND action = 'create'`, f.van) != 1 {
			t.Fatalf("delete: %d log rows left, audit rows missing", left)
		}
	})
}

func TestVehicleFiltersSearchAndOrdering(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		// The van is due at 45000 miles and on 2026-04-01.
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "oil_change", "service_date": "2026-01-05",
			"mileage_at_service": 40000, "next_due_mileage": 45000, "next_due_date": "2026-04-01"})
		list := func(q string) []string { return names(t, e.Do("GET", "/api/vehicles/?"+q, f.owner, nil)) }
		cases := []struct {
			query string
			want  []string
		}{
			{"", []string{"Pickup 2", "Sedan 3", "Van 1"}},
			{"vehicle_type=pickup", []string{"Pickup 2"}},
			{"status=retired", []string{"Sedan 3"}},
			{"status=active", []string{"Van 1"}},
			{fmt.Sprintf("assigned_to=%d", f.driver.ID), []string{"Van 1"}},
			{"assigned_to=987654", nil},
			{"service_overdue=false", []string{"Pickup 2", "Sedan 3", "Van 1"}},
			{"service_overdue=true", nil},
			{"insurance_expires_at__lte=2026-05-01", []string{"Pickup 2"}},
			{"insurance_expires_at__gte=2026-05-01", []string{"Van 1"}},
			{"registration_expires_at__gte=2026-01-01", []string{"Van 1"}},
			{"purchase_date__gte=2024-01-01", []string{"Pickup 2"}},
			{"next_service_due_date__lte=2026-04-01", []string{"Van 1"}},
			{"ordering=-current_mileage", []string{"Sedan 3", "Van 1", "Pickup 2"}},
			{"ordering=year", []string{"Sedan 3", "Van 1", "Pickup 2"}}, // nulls last
			{"ordering=-year", []string{"Pickup 2", "Van 1", "Sedan 3"}},
			{"ordering=next_service_due_mileage,name", []string{"Van 1", "Pickup 2", "Sedan 3"}},
			{"search=toyota", []string{"Pickup 2"}},
			{"search=ACM-00", []string{"Pickup 2", "Van 1"}},
			{"search=kp042", []string{"Van 1"}}, // part of the VIN
			{"search=transit,250", []string{"Van 1"}},
			{"search=ford+honda", nil},
			{"search=ac", []string{"Sedan 3", "Pickup 2", "Van 1"}}, // Accord, ACM-…: short terms too
		}
		for _, c := range cases {
			got := list(c.query)
			if strings.HasPrefix(c.query, "search=") {
				slices.Sort(got)
				slices.Sort(c.want)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("?%s: %v, want %v", c.query, got, c.want)
			}
		}
		// Overdue by mileage: a fill-up past 45000 miles makes the van due, and the filter sees it at once.
		f.add(t, f.van, "fuel", map[string]any{"mileage": 45010, "gallons": 20})
		if got := list("service_overdue=true"); !slices.Equal(got, []string{"Van 1"}) {
			t.Errorf("overdue by mileage: %v", got)
		}
		// Overdue by date: after 2026-04-01 (the store's clock), even below the mileage.
		f.add(t, f.pickup, "maintenance", map[string]any{"maintenance_type": "inspection", "service_date": "2026-02-01", "next_due_date": "2026-04-01"})
		if got := list("service_overdue=true"); !slices.Equal(got, []string{"Van 1"}) {
			t.Errorf("due today is not overdue: %v", got)
		}
		e.Clock.Advance(31 * 24 * time.Hour) // 2026-04-02
		if got := list("service_overdue=true"); !slices.Equal(got, []string{"Pickup 2", "Van 1"}) {
			t.Errorf("overdue by date: %v", got)
		}
		if got := list("service_overdue=false"); !slices.Equal(got, []string{"Sedan 3"}) {
			t.Errorf("not overdue: %v", got)
		}
		if m := f.get(t, f.pickup); m["service_overdue"] != true || m["next_service_due_date"] != "2026-04-01" {
			t.Errorf("pickup: %v", m)
		}
		// Invalid filter values name the parameter.
		for _, q := range []string{"service_overdue=maybe", "vehicle_type=boat", "status=sold", "assigned_to=me", "purchase_date__gte=2024-13-01",
			"ordering=service_overdue", "ordering=mpg"} {
			param, _, _ := strings.Cut(q, "=")
			if q[:8] == "ordering" {
				param = "ordering"
			}
			if r := e.Do("GET", "/api/vehicles/?"+q, f.owner, nil); r.Status != 400 || r.Map()[param] == nil {
				t.Errorf("?%s: %d %s", q, r.Status, r.Body)
			}
		}
		// Every orderable field, both ways, on both databases; ?organization= narrows.
		for _, field := range store.VehicleSpec.OrderFields() {
			for _, o := range []string{field, "-" + field} {
				if r := e.Do("GET", "/api/vehicles/?ordering="+o, f.owner, nil); r.Status != 200 || r.Map()["count"] != 3.0 {
					t.Errorf("ordering=%s: %d %s", o, r.Status, r.Body)
				}
			}
		}
		su := e.Key(e.User("root@x.test", true), store.NewKey{})
		if r := e.Do("GET", "/api/vehicles/?organization="+f.bravo.Slug, su, nil); !slices.Equal(names(t, r), []string{"Bravo van"}) {
			t.Errorf("?organization=: %s", r.Body)
		}
		if r := e.Do("GET", "/api/vehicles/?organization="+f.bravo.Slug, f.owner, nil); r.Status != 403 {
			t.Errorf("?organization= of another organization: %d", r.Status)
		}
		// updated_at__gte serves incremental sync.
		mark := e.Clock.Now()
		e.Clock.Advance(time.Second)
		e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.sedan), f.owner, map[string]any{"notes": "sold for parts"})
		if got := list("updated_at__gte=" + url.QueryEscape(mark.Format(time.RFC3339Nano))); !slices.Equal(got, []string{"Sedan 3"}) {
			t.Errorf("updated_at__gte: %v", got)
		}
	})
}

func TestVehicleMaintenanceScheduleAndOdometer(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		log := fmt.Sprintf("/api/vehicles/%d/maintenance/", f.van)

		// An oil change at a higher mileage raises the odometer and sets the schedule.
		r := e.Do("POST", log, f.ed, map[string]any{"maintenance_type": "oil_change", "service_date": "2026-02-20",
			"mileage_at_service": 43000, "performed_by": " Jiffy Lube ", "cost": 89.99, "next_due_date": "2026-08-20",
			"next_due_mileage": 48000, "notes": "5W-30", "id": 7, "vehicle": 999, "created_at": "x"})
		oil := r.Map()
		if r.Status != 201 || oil["vehicle"] != float64(f.van) || oil["performed_by"] != "Jiffy Lube" || oil["cost"] != 89.99 ||
			r.Header.Get("Location") != fmt.Sprintf("%s/api/vehicle-maintenance/%v/", e.Server.URL, oil["id"]) {
			t.Fatalf("add: %d %s (Location %q)", r.Status, r.Body, r.Header.Get("Location"))
		}
		if got := e.Do("GET", r.Header.Get("Location")[len(e.Server.URL):], f.ro, nil); got.Status != 200 || string(got.Body) != string(r.Body) {
			t.Fatalf("the Location: %d %s", got.Status, got.Body)
		}
		expect(t, "after the oil change", f.get(t, f.van), map[string]any{"current_mileage": 43000, "next_service_due_date": "2026-08-20",
			"next_service_due_mileage": 48000, "service_overdue": false})

		// History entered late: a lower mileage is accepted and leaves the odometer alone; an older
		// record of the same type does not replace the newer one's schedule.
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "oil_change", "service_date": "2025-08-01",
			"mileage_at_service": 38000, "next_due_date": "2026-02-01", "next_due_mileage": 43000})
		// A record of another type adds its own reminder; the vehicle is due at the earliest.
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "tire_rotation", "service_date": "2026-02-21",
			"mileage_at_service": 42500, "next_due_mileage": 47500})
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "inspection", "service_date": "2026-02-22", "next_due_date": "2026-07-01"})
		expect(t, "three schedules", f.get(t, f.van), map[string]any{"current_mileage": 43000, "next_service_due_date": "2026-07-01",
			"next_service_due_mileage": 47500})
		// A newer inspection without a next date ends the inspection reminder.
		f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "inspection", "service_date": "2026-02-25", "mileage_at_service": 43100})
		expect(t, "inspection done", f.get(t, f.van), map[string]any{"current_mileage": 43100, "next_service_due_date": "2026-08-20",
			"next_service_due_mileage": 47500})
		// Without a service_date the record is dated today (the store's clock); a repair sets nothing due.
		if m := f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "repair", "cost": 250}); m["service_date"] != "2026-03-02" ||
			m["mileage_at_service"] != nil {
			t.Errorf("defaults: %v", m)
		}
		// The odometer reaching the due mileage makes the vehicle overdue.
		e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.van), f.ed, map[string]any{"current_mileage": 47500})
		if m := f.get(t, f.van); m["service_overdue"] != true {
			t.Errorf("at the due mileage: %v", m["service_overdue"])
		}

		// The history: newest first, filters, every ordering, GET one; search is ignored.
		types := func(q string) string { return column(t, e, f.ro, log+"?"+q, "maintenance_type") }
		for q, w := range map[string][]string{
			"":                             {"repair", "inspection", "inspection", "tire_rotation", "oil_change", "oil_change"},
			"maintenance_type=oil_change":  {"oil_change", "oil_change"},
			"service_date__gte=2026-02-21": {"repair", "inspection", "inspection", "tire_rotation"},
			"service_date__lte=2026-02-20": {"oil_change", "oil_change"},
			"ordering=mileage_at_service&page_size=2": {"oil_change", "tire_rotation"}, // nulls last
			"search=anything":                         {"repair", "inspection", "inspection", "tire_rotation", "oil_change", "oil_change"},
		} {
			if got := types(q); got != fmt.Sprint(w) {
				t.Errorf("maintenance ?%s: %v, want %v", q, got, w)
			}
		}
		for _, field := range store.MaintenanceSpec.OrderFields() {
			types("ordering=-" + field)
		}
		for _, q := range []string{"maintenance_type=wash", "service_date__gte=x", "ordering=vin", "page=9"} {
			if r := e.Do("GET", log+"?"+q, f.ro, nil); r.Status != 400 && r.Status != 404 {
				t.Errorf("maintenance ?%s: %d %s", q, r.Status, r.Body)
			}
		}

		// Validation: negative and inconsistent values are refused with 400, nothing is written.
		var n int
		e.DB.R.QueryRow(`SELECT count(*) FROM vehicle_maintenance`).Scan(&n)
		refused(t, e, "POST", log, f.ed, nil, []badBody{
			{map[string]any{}, "maintenance_type"},
			{map[string]any{"maintenance_type": "wash"}, "maintenance_type"},
			{map[string]any{"maintenance_type": "repair", "mileage_at_service": -5}, "mileage_at_service"},
			{map[string]any{"maintenance_type": "repair", "next_due_mileage": -5}, "next_due_mileage"},
			{map[string]any{"maintenance_type": "repair", "mileage_at_service": 50000, "next_due_mileage": 49000}, "next_due_mileage"},
			{map[string]any{"maintenance_type": "repair", "service_date": "2026-02-01", "next_due_date": "2026-01-01"}, "next_due_date"},
			{map[string]any{"maintenance_type": "repair", "cost": -1}, "cost"},
			{map[string]any{"maintenance_type": "repair", "service_date": "01/02/2026"}, "service_date"},
			{map[string]any{"maintenance_type": "repair", "mileage_at_service": "43k"}, "mileage_at_service"},
			{map[string]any{"maintenance_type": "repair", "odometer": 1}, "odometer"},
		})
		var after int
		e.DB.R.QueryRow(`SELECT count(*) FROM vehicle_maintenance`).Scan(&after)
		if after != n {
			t.Errorf("refused records were written: %d -> %d", n, after)
		}

		// Audit: each record, and the vehicle's odometer and schedule changes it caused.
		var rows, vehicleRows int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'vehicle_maintenance' AND action = 'create'`).Scan(&rows)
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'vehicle' AND object_id = $1 AND action = 'update'
			AND changes LIKE '%next_service_due%'`, f.van).Scan(&vehicleRows)
		if rows != 6 || vehicleRows != 4 {
			t.Errorf("audit: %d maintenance rows (want 6), %d vehicle schedule updates (want 4)", rows, vehicleRows)
		}
	})
}

func TestVehicleFuelLogAndMPG(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		mpgOf := func(id any) any {
			r := e.Do("GET", fmt.Sprintf("/api/vehicle-fuel/%v/", id), f.ro, nil)
			if r.Status != 200 {
				t.Fatalf("get fill-up %v: %d %s", id, r.Status, r.Body)
			}
			return r.Map()["mpg"]
		}
		// The first fill-up has no mpg; the next one's comes from the distance since it.
		first := f.add(t, f.pickup, "fuel", map[string]any{"date": "2026-02-01", "mileage": 18100, "gallons": 15.5, "total_cost": 52.7,
			"station": "Shell", "mpg": 99})
		if first["mpg"] != nil || first["station"] != "Shell" || first["total_cost"] != 52.7 {
			t.Fatalf("first fill-up: %v", first)
		}
		third := f.add(t, f.pickup, "fuel", map[string]any{"date": "2026-02-20", "mileage": 18700, "gallons": 16})
		if third["mpg"] != 37.5 { // 600 miles / 16 gallons
			t.Errorf("mpg: %v", third["mpg"])
		}
		// A fill-up entered late, between the two: its mpg from the first, and the later one's is
		// recomputed from it. The odometer stays at the highest reading.
		second := f.add(t, f.pickup, "fuel", map[string]any{"date": "2026-02-10", "mileage": 18400, "gallons": 12})
		if second["mpg"] != 25.0 || mpgOf(third["id"]) != 18.75 { // 300/12, then 300/16
			t.Errorf("late entry: %v, later one %v", second["mpg"], mpgOf(third["id"]))
		}
		if m := f.get(t, f.pickup); m["current_mileage"] != 18700.0 {
			t.Errorf("odometer %v", m["current_mileage"])
		}
		// Same day, a higher reading after; a reading lower than the previous fill-up cannot give an mpg.
		if m := f.add(t, f.pickup, "fuel", map[string]any{"date": "2026-02-20", "mileage": 18733, "gallons": 3}); m["mpg"] != 11.0 {
			t.Errorf("same day: %v", m["mpg"])
		}
		if m := f.add(t, f.pickup, "fuel", map[string]any{"date": "2026-02-25", "mileage": 18500, "gallons": 10}); m["mpg"] != nil {
			t.Errorf("decreasing mileage: %v", m["mpg"])
		}
		// Without a date the fill-up is today's; a higher reading raises the odometer.
		today := f.add(t, f.pickup, "fuel", map[string]any{"mileage": 19033, "gallons": 10})
		if today["date"] != "2026-03-02" || today["mpg"] != 53.3 { // 533 miles since the 18500 fill-up / 10
			t.Errorf("today: %v", today)
		}
		if m := f.get(t, f.pickup); m["current_mileage"] != 19033.0 {
			t.Errorf("odometer %v", m["current_mileage"])
		}

		// The log: newest first; date range; orderings; every field orderable.
		mileages := func(q string) string {
			return column(t, e, f.ro, fmt.Sprintf("/api/vehicles/%d/fuel/?%s", f.pickup, q), "mileage")
		}
		for q, w := range map[string][]float64{
			"":                          {19033, 18500, 18733, 18700, 18400, 18100},
			"date__gte=2026-02-20":      {19033, 18500, 18733, 18700},
			"date__lte=2026-02-10":      {18400, 18100},
			"ordering=mileage":          {18100, 18400, 18500, 18700, 18733, 19033},
			"ordering=-mpg&page_size=4": {18100, 18500, 19033, 18400},               // nulls first, ties by id
			"ordering=mpg":              {18733, 18700, 18400, 19033, 18100, 18500}, // nulls last, ties by id
		} {
			if got := mileages(q); got != fmt.Sprint(w) {
				t.Errorf("fuel ?%s: %v, want %v", q, got, w)
			}
		}
		for _, field := range store.FuelSpec.OrderFields() {
			mileages("ordering=" + field)
		}

		refused(t, e, "POST", fmt.Sprintf("/api/vehicles/%d/fuel/", f.pickup), f.ed, nil, []badBody{
			{map[string]any{"gallons": 10}, "mileage"},
			{map[string]any{"mileage": 19100}, "gallons"},
			{map[string]any{"mileage": -1, "gallons": 10}, "mileage"},
			{map[string]any{"mileage": 19100, "gallons": 0}, "gallons"},
			{map[string]any{"mileage": 19100, "gallons": -4}, "gallons"},
			{map[string]any{"mileage": 19100, "gallons": nil}, "gallons"},
			{map[string]any{"mileage": 19100, "gallons": "ten"}, "gallons"},
			{map[string]any{"mileage": 19100, "gallons": 10, "total_cost": -2}, "total_cost"},
			{map[string]any{"mileage": 19100, "gallons": 10, "date": "2026-02-31"}, "date"},
			{map[string]any{"mileage": 19100, "gallons": 10, "station": strings.Repeat("s", 201)}, "station"},
		})
		if m := f.get(t, f.pickup); m["current_mileage"] != 19033.0 {
			t.Errorf("refused entries moved the odometer: %v", m["current_mileage"])
		}
		var audits int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'vehicle_fuel' AND action = 'create'`).Scan(&audits)
		if audits != 6 {
			t.Errorf("%d fuel audit rows, want 6", audits)
		}
	})
}

func TestVehicleTenantIsolationAndRoles(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		oil := f.add(t, f.van, "maintenance", map[string]any{"maintenance_type": "oil_change"})
		fill := f.add(t, f.van, "fuel", map[string]any{"mileage": 42100, "gallons": 9})
		type req struct {
			method, path string
			body         any
		}
		v := func(rest string) string { return fmt.Sprintf("/api/vehicles/%d/%s", f.van, rest) }
		reads := []req{{"GET", v(""), nil}, {"GET", v("maintenance/"), nil}, {"GET", v("fuel/"), nil},
			{"GET", fmt.Sprintf("/api/vehicle-maintenance/%v/", oil["id"]), nil}, {"GET", fmt.Sprintf("/api/v1/vehicle-fuel/%v/", fill["id"]), nil}}
		edits := []req{{"PUT", v(""), map[string]any{"name": "x"}}, {"PATCH", v(""), map[string]any{"name": "x"}},
			{"POST", v("maintenance/"), map[string]any{"maintenance_type": "repair", "mileage_at_service": 99999}},
			{"POST", v("fuel/"), map[string]any{"mileage": 99999, "gallons": 1}}}
		deletes := []req{{"DELETE", v(""), nil}}

		// Another organization's editor: everything is "not found", and their list holds only theirs.
		for _, rq := range slices.Concat(reads, edits, deletes) {
			if r := e.Do(rq.method, rq.path, f.other, rq.body); r.Status != 404 || string(r.Body) != `{"detail":"Not found."}` {
				t.Errorf("Bravo %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
		if got := names(t, e.Do("GET", "/api/vehicles/", f.other, nil)); !slices.Equal(got, []string{"Bravo van"}) {
			t.Errorf("Bravo sees %v", got)
		}
		// Bravo cannot read Acme's entries by guessing ids either, nor list Bravo's van's logs into Acme's.
		if r := e.Do("GET", fmt.Sprintf("/api/vehicles/%d/maintenance/", f.bravoVan), f.owner, nil); r.Status != 404 {
			t.Errorf("Acme lists Bravo's log: %d", r.Status)
		}
		// Readonly: reads everything, writes nothing.
		for _, rq := range reads {
			if r := e.Do(rq.method, rq.path, f.ro, rq.body); r.Status != 200 {
				t.Errorf("readonly %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
		for _, rq := range slices.Concat(edits, deletes, []req{{"POST", "/api/vehicles/", map[string]any{"name": "x"}}}) {
			if r := e.Do(rq.method, rq.path, f.ro, rq.body); r.Status != 403 {
				t.Errorf("readonly %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
		// Nothing above changed the van.
		expect(t, "van after refused writes", f.get(t, f.van), map[string]any{"name": "Van 1", "current_mileage": 42100})
		// Editor: edits and adds entries, cannot delete; owner deletes.
		for _, rq := range edits {
			if r := e.Do(rq.method, rq.path, f.ed, rq.body); r.Status >= 300 {
				t.Errorf("editor %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
		if r := e.Do("DELETE", v(""), f.ed, nil); r.Status != 403 {
			t.Errorf("editor delete: %d", r.Status)
		}
		// A custom role with vehicles.view only, and a key capped at readonly, are readonly here.
		if _, err := e.Store.CreateRole(e.Sys, store.Role{Role: roleWith("fleet-viewer", "vehicles.view")}); err != nil {
			t.Fatal(err)
		}
		viewer := e.User("viewer@acme.test", false)
		e.Member(f.acme.ID, viewer.Email, "fleet-viewer")
		capped := e.Key(e.User("root@x.test", true), store.NewKey{Role: "readonly"})
		for who, key := range map[string]string{"vehicles.view role": e.Key(viewer, store.NewKey{}), "capped superuser": capped} {
			if r := e.Do("GET", v("fuel/"), key, nil); r.Status != 200 {
				t.Errorf("%s reads the fuel log: %d", who, r.Status)
			}
			if r := e.Do("POST", v("fuel/"), key, map[string]any{"mileage": 1, "gallons": 1}); r.Status != 403 {
				t.Errorf("%s adds a fill-up: %d %s", who, r.Status, r.Body)
			}
		}
		if r := e.Do("DELETE", v(""), f.owner, nil); r.Status != 204 {
			t.Errorf("owner delete: %d", r.Status)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/vehicle-fuel/%v/", fill["id"]), f.owner, nil); r.Status != 404 {
			t.Errorf("an entry of a deleted vehicle: %d", r.Status)
		}
		// Bravo's van is untouched.
		if r := e.Do("GET", fmt.Sprintf("/api/vehicles/%d/", f.bravoVan), f.other, nil); r.Status != 200 || r.Map()["name"] != "Bravo van" {
			t.Errorf("Bravo van: %d %s", r.Status, r.Body)
		}
	})
}

func TestVehicleAssignmentFollowsMembership(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		f := newFleet(t, e)
		// A deactivated member cannot be newly assigned; one already assigned does not block other edits.
		tech := e.User("tech@acme.test", false)
		e.Member(f.acme.ID, tech.Email, "editor")
		if r := e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.pickup), f.owner, map[string]any{"assigned_to": tech.ID}); r.Status != 200 {
			t.Fatalf("assign: %d %s", r.Status, r.Body)
		}
		if err := e.Store.DeactivateUser(e.Sys, tech.Email); err != nil {
			t.Fatal(err)
		}
		if r := e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.pickup), f.owner, map[string]any{"notes": "tyres"}); r.Status != 200 {
			t.Errorf("edit with an inactive assignee kept: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", fmt.Sprintf("/api/vehicles/%d/", f.sedan), f.owner, map[string]any{"assigned_to": tech.ID}); r.Status != 400 {
			t.Errorf("assign an inactive user: %d %s", r.Status, r.Body)
		}
		// Removing a membership unassigns the member's vehicles in that organization, audited.
		if err := e.Store.RemoveMember(e.Sys, f.acme.ID, f.driver.Email); err != nil {
			t.Fatal(err)
		}
		if m := f.get(t, f.van); m["assigned_to"] != nil || m["assigned_to_email"] != nil {
			t.Errorf("after removal: %v %v", m["assigned_to"], m["assigned_to_email"])
		}
		if got := names(t, e.Do("GET", fmt.Sprintf("/api/vehicles/?assigned_to=%d", f.driver.ID), f.owner, nil)); len(got) != 0 {
			t.Errorf("still assigned: %v", got)
		}
		var n int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'vehicle' AND object_id = $1 AND action = 'update'
			AND changes LIKE '%assigned_to%'`,
			f.van).Scan(&n)
		if n != 1 {
			t.Errorf("%d audit rows for the unassignment", n)
		}
	})
}
