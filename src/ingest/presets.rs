//! Known session exports: which header identifies each one, which of its
//! columns feeds which canonical field, and how its times are written.
//!
//! Column names and time conventions come from the public datasets
//! (`reference/ocpp-and-datasets.md` §4). A column spec may list
//! alternatives separated by `|`: the first one present in the header is used.

use std::fmt;
use std::str::FromStr;

use crate::timeutil::DateOrder;

/// Canonical input fields a CSV column can feed (the left side of `--map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    SessionId,
    StationId,
    ConnectorId,
    IdTag,
    Start,
    StartDate,
    StartTime,
    StartZone,
    Stop,
    StopDate,
    StopTime,
    StopZone,
    Timezone,
    Duration,
    ChargingDuration,
    ChargingEnd,
    EnergyKwh,
    EnergyWh,
    MeterStartWh,
    MeterStopWh,
    MaxPowerKw,
    StopReason,
    Site,
}

impl Field {
    pub const ALL: [Field; 23] = [
        Field::SessionId,
        Field::StationId,
        Field::ConnectorId,
        Field::IdTag,
        Field::Start,
        Field::StartDate,
        Field::StartTime,
        Field::StartZone,
        Field::Stop,
        Field::StopDate,
        Field::StopTime,
        Field::StopZone,
        Field::Timezone,
        Field::Duration,
        Field::ChargingDuration,
        Field::ChargingEnd,
        Field::EnergyKwh,
        Field::EnergyWh,
        Field::MeterStartWh,
        Field::MeterStopWh,
        Field::MaxPowerKw,
        Field::StopReason,
        Field::Site,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::SessionId => "session_id",
            Field::StationId => "station_id",
            Field::ConnectorId => "connector_id",
            Field::IdTag => "id_tag",
            Field::Start => "start",
            Field::StartDate => "start_date",
            Field::StartTime => "start_time",
            Field::StartZone => "start_zone",
            Field::Stop => "stop",
            Field::StopDate => "stop_date",
            Field::StopTime => "stop_time",
            Field::StopZone => "stop_zone",
            Field::Timezone => "timezone",
            Field::Duration => "duration",
            Field::ChargingDuration => "charging_duration",
            Field::ChargingEnd => "charging_end",
            Field::EnergyKwh => "energy_kwh",
            Field::EnergyWh => "energy_wh",
            Field::MeterStartWh => "meter_start_wh",
            Field::MeterStopWh => "meter_stop_wh",
            Field::MaxPowerKw => "max_power_kw",
            Field::StopReason => "stop_reason",
            Field::Site => "site",
        }
    }

    /// What the field means, for `--help` and error messages.
    pub fn help(self) -> &'static str {
        match self {
            Field::SessionId => "the export's own session or transaction id",
            Field::StationId => "charging station (EVSE) id (required)",
            Field::ConnectorId => "connector / port number",
            Field::IdTag => "RFID tag, user or card id",
            Field::Start => "plug-in date and time (required, or start_date + start_time)",
            Field::StartDate => "plug-in date, when the time is in its own column",
            Field::StartTime => "plug-in time of day",
            Field::StartZone => "zone abbreviation of the start time (PDT, PST, UTC)",
            Field::Stop => "plug-out date and time",
            Field::StopDate => "plug-out date, when the time is in its own column",
            Field::StopTime => "plug-out time of day",
            Field::StopZone => "zone abbreviation of the stop time",
            Field::Timezone => "IANA time zone of the row (America/Los_Angeles)",
            Field::Duration => "plugged-in duration, H:MM:SS",
            Field::ChargingDuration => "time spent charging, H:MM:SS",
            Field::ChargingEnd => "date and time charging ended (car full, still plugged in)",
            Field::EnergyKwh => "energy delivered in kWh",
            Field::EnergyWh => "energy delivered in Wh",
            Field::MeterStartWh => "meter register at start, Wh",
            Field::MeterStopWh => "meter register at stop, Wh",
            Field::MaxPowerKw => "peak power in kW",
            Field::StopReason => "why the session ended",
            Field::Site => "site or location name",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Field {
    type Err = String;
    fn from_str(s: &str) -> Result<Field, String> {
        let s = s.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown field '{s}'; evmon fields are: {}",
                    names.join(", ")
                )
            })
    }
}

/// A known export format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub title: &'static str,
    /// Columns that must all be present for auto-detection (each may list
    /// `|` alternatives).
    pub signature: &'static [&'static str],
    pub columns: &'static [(Field, &'static str)],
    pub date_order: DateOrder,
    /// Zone of naive times when neither a zone column, `--tz` nor station
    /// metadata gives one. Every default is the dataset's own city.
    pub zone: Option<&'static str>,
    /// Whether the export's session id identifies the session on its own
    /// (some exports number rows per file instead).
    pub stable_ids: bool,
}

use Field::*;

/// Known exports, most specific first (detection takes the first match).
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "acn",
        title: "Caltech ACN-Data sessions (JSON download or CSV of its fields)",
        signature: &["connectionTime", "kWhDelivered", "stationID"],
        columns: &[
            (SessionId, "sessionID"),
            (StationId, "stationID"),
            (Start, "connectionTime"),
            (Stop, "disconnectTime"),
            (ChargingEnd, "doneChargingTime"),
            (EnergyKwh, "kWhDelivered"),
            (IdTag, "userID"),
            (Timezone, "timezone"),
            (Site, "siteID"),
        ],
        date_order: DateOrder::Ymd,
        zone: None,
        stable_ids: true,
    },
    Preset {
        name: "palo-alto",
        title: "City of Palo Alto ChargePoint export (2011-2020)",
        signature: &[
            "Station Name",
            "Start Date",
            "Start Time Zone",
            "Energy (kWh)",
        ],
        columns: &[
            (StationId, "Station Name"),
            (ConnectorId, "Port Number"),
            (Start, "Start Date"),
            (StartZone, "Start Time Zone"),
            (Stop, "End Date"),
            (StopZone, "End Time Zone"),
            (Duration, "Total Duration (hh:mm:ss)"),
            (ChargingDuration, "Charging Time (hh:mm:ss)"),
            (EnergyKwh, "Energy (kWh)"),
            (IdTag, "User ID"),
            (SessionId, "Plug In Event Id"),
            (StopReason, "Ended By"),
            (Site, "Address 1"),
        ],
        date_order: DateOrder::Mdy,
        zone: Some("America/Los_Angeles"),
        stable_ids: false,
    },
    Preset {
        name: "boulder",
        title: "City of Boulder open data (ArcGIS field names)",
        signature: &["Station_Name", "Start_Date___Time", "Energy__kWh_"],
        columns: &[
            (StationId, "Station_Name"),
            (Start, "Start_Date___Time"),
            (StartZone, "Start_Time_Zone"),
            (Stop, "End_Date___Time"),
            (StopZone, "End_Time_Zone"),
            (Duration, "Total_Duration__hh_mm_ss_"),
            (ChargingDuration, "Charging_Time__hh_mm_ss_"),
            (EnergyKwh, "Energy__kWh_"),
            (Site, "Address"),
        ],
        date_order: DateOrder::Mdy,
        zone: Some("America/Denver"),
        stable_ids: false,
    },
    Preset {
        name: "dundee",
        title: "Dundee City Council charge point usage (2021 onward)",
        signature: &["SDR ID", "CP ID", "Consum(kWh)", "Start"],
        columns: &[
            (SessionId, "SDR ID"),
            (Site, "Site"),
            (StationId, "CP ID"),
            (EnergyKwh, "Consum(kWh)"),
            (Duration, "Duration"),
            (Start, "Start"),
            (Stop, "End"),
        ],
        date_order: DateOrder::Dmy,
        zone: Some("Europe/London"),
        stable_ids: true,
    },
    Preset {
        name: "pkc",
        title: "Perth & Kinross Council EV charge-station use (2016-2019)",
        signature: &["_id", "CP ID", "Start Date", "Start Time", "Total kWh"],
        columns: &[
            (StationId, "CP ID"),
            (ConnectorId, "Connector"),
            (StartDate, "Start Date"),
            (StartTime, "Start Time"),
            (StopDate, "End Date"),
            (StopTime, "End Time"),
            (EnergyKwh, "Total kWh"),
            (Site, "Site"),
        ],
        date_order: DateOrder::Dmy,
        zone: Some("Europe/London"),
        stable_ids: false,
    },
    Preset {
        name: "dundee-2017",
        title: "Dundee Charge Your Car export (2017-2018)",
        signature: &["CP ID", "Start Date", "Start Time", "Total kWh"],
        columns: &[
            (StationId, "CP ID"),
            (ConnectorId, "Connector"),
            (StartDate, "Start Date"),
            (StartTime, "Start Time"),
            (StopDate, "End Date"),
            (StopTime, "End Time"),
            (EnergyKwh, "Total kWh"),
            (Site, "Site"),
        ],
        date_order: DateOrder::Dmy,
        zone: Some("Europe/London"),
        stable_ids: false,
    },
    Preset {
        name: "norway",
        title: "Residential apartment charging, Trondheim (Sørensen et al. 2021)",
        signature: &["session_ID", "Garage_ID", "Start_plugin", "El_kWh"],
        columns: &[
            (SessionId, "session_ID"),
            (StationId, "Garage_ID"),
            (IdTag, "User_ID"),
            (Start, "Start_plugin"),
            (Stop, "End_plugout"),
            (EnergyKwh, "El_kWh"),
        ],
        date_order: DateOrder::Dmy,
        // The dataset article states CET (GMT+1) is used, without DST.
        zone: Some("Etc/GMT-1"),
        stable_ids: true,
    },
    Preset {
        name: "steve",
        title: "SteVe transactions export (transaction_start/stop joined)",
        signature: &[
            "transaction_pk",
            "charge_box_id",
            "start_timestamp",
            "start_value",
        ],
        columns: &[
            (SessionId, "transaction_pk"),
            (StationId, "charge_box_id"),
            (ConnectorId, "evse_id|connector_id"),
            (IdTag, "id_tag"),
            (Start, "start_timestamp"),
            (Stop, "stop_timestamp"),
            (MeterStartWh, "start_value"),
            (MeterStopWh, "stop_value"),
            (StopReason, "stop_reason"),
        ],
        date_order: DateOrder::Ymd,
        // SteVe stores TIMESTAMP columns in UTC (migration V1_1_2).
        zone: Some("UTC"),
        stable_ids: true,
    },
    Preset {
        name: "generic",
        title: "evmon's own column names (station_id, start, stop, energy_kwh, ...)",
        signature: &["station_id", "start|start_date"],
        columns: &[
            (SessionId, "session_id|transaction_id"),
            (StationId, "station_id"),
            (ConnectorId, "connector_id"),
            (IdTag, "id_tag"),
            (Start, "start"),
            (StartDate, "start_date"),
            (StartTime, "start_time"),
            (StartZone, "start_zone"),
            (Stop, "stop"),
            (StopDate, "stop_date"),
            (StopTime, "stop_time"),
            (StopZone, "stop_zone"),
            (Timezone, "timezone"),
            (Duration, "duration"),
            (ChargingDuration, "charging_duration"),
            (ChargingEnd, "charging_end"),
            (EnergyKwh, "energy_kwh"),
            (EnergyWh, "energy_wh"),
            (MeterStartWh, "meter_start_wh"),
            (MeterStopWh, "meter_stop_wh"),
            (MaxPowerKw, "max_power_kw"),
            (StopReason, "stop_reason"),
            (Site, "site"),
        ],
        date_order: DateOrder::Ymd,
        zone: None,
        stable_ids: true,
    },
];

/// Find a preset by name.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Index of the first header column matching one of `spec`'s alternatives
/// (case-insensitive, surrounding spaces ignored).
pub fn find_column(header: &[String], spec: &str) -> Option<usize> {
    spec.split('|').find_map(|alt| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(alt.trim()))
    })
}

/// The first preset whose signature the header satisfies.
pub fn detect(header: &[String]) -> Option<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.signature.iter().all(|s| find_column(header, s).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &str) -> Vec<String> {
        cols.split(',').map(str::to_string).collect()
    }

    #[test]
    fn detects_each_preset_from_its_real_header() {
        let cases = [
            ("_id,clusterID,connectionTime,disconnectTime,doneChargingTime,kWhDelivered,sessionID,siteID,spaceID,stationID,timezone,userID,userInputs", "acn"),
            ("Station Name,MAC Address,Org Name,Start Date,Start Time Zone,End Date,End Time Zone,Transaction Date (Pacific Time),Total Duration (hh:mm:ss),Charging Time (hh:mm:ss),Energy (kWh),GHG Savings (kg),Gasoline Savings (gallons),Port Type,Port Number,Plug Type,EVSE ID,Address 1,City,State/Province,Postal Code,Country,Latitude,Longitude,Currency,Fee,Ended By,Plug In Event Id,Driver Postal Code,User ID,County,System S/N,Model Number", "palo-alto"),
            ("Station_Name,Address,City,State_Province,Zip_Postal_Code,Start_Date___Time,Start_Time_Zone,End_Date___Time,End_Time_Zone,Total_Duration__hh_mm_ss_,Charging_Time__hh_mm_ss_,Energy__kWh_,GHG_Savings__kg_,Gasoline_Savings__gallons_,Port_Type,ObjectID,ObjectId2", "boulder"),
            ("SDR ID,Site,CP ID,Connector Type,Consum(kWh),Duration,Start,End,Postcode", "dundee"),
            ("_id,CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh,Site,Model", "pkc"),
            ("CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh,Site,Group,Model", "dundee-2017"),
            ("transaction_pk,charge_box_id,evse_id,id_tag,user_pk,start_timestamp,start_value,stop_timestamp,stop_value", "steve"),
            ("station_id,connector_id,start,stop,energy_kwh", "generic"),
        ];
        for (cols, want) in cases {
            assert_eq!(detect(&header(cols)).map(|p| p.name), Some(want), "{cols}");
        }
        let norway = "session_ID;Garage_ID;User_ID;User_type;Shared_ID;Start_plugin;Start_plugin_hour;End_plugout;End_plugout_hour;El_kWh;Duration_hours;month_plugin;weekdays_plugin;Plugin_category;Duration_category";
        let h: Vec<String> = norway.split(';').map(str::to_string).collect();
        assert_eq!(detect(&h).map(|p| p.name), Some("norway"));
        assert_eq!(detect(&header("a,b,c")), None);
    }

    #[test]
    fn every_preset_maps_a_station_and_a_start() {
        for p in PRESETS {
            let has = |f| p.columns.iter().any(|(x, _)| *x == f);
            assert!(has(StationId), "{}", p.name);
            assert!(has(Start) || has(StartDate), "{}", p.name);
            if let Some(z) = p.zone {
                assert!(z.parse::<chrono_tz::Tz>().is_ok(), "{}: {z}", p.name);
            }
        }
    }

    #[test]
    fn fields_parse_by_name() {
        for f in Field::ALL {
            assert_eq!(f.name().parse::<Field>().unwrap(), f);
        }
        assert!("nope".parse::<Field>().unwrap_err().contains("station_id"));
    }
}
